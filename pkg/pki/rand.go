package pki

import (
	"crypto/rand"
	"io"
	"math/big"
)

var randReader io.Reader = rand.Reader

func randInt(r io.Reader, max *big.Int) (*big.Int, error) { return rand.Int(r, max) }
