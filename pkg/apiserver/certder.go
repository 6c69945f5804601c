package apiserver

import (
	"bytes"
	"encoding/pem"
	"io"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

// certificateDER stores an IssuedCertificate's spec.certificate as DER, the PEM's own
// bytes without base64 and armour: a third less, which takes a P-256 client certificate's
// record under the size at which three fit in one 4 KiB page of etcd's database (1.3 KiB
// a record instead of 2 KiB). The API still says PEM: a record is decoded with its PEM
// rebuilt, byte for byte what was written, because only a PEM that pem.EncodeToMemory
// would write again exactly (one CERTIFICATE block, no headers, nothing around it) is
// stored as DER; any other is stored as given. DER starts with 0x30 (a SEQUENCE), PEM
// with '-': what was stored says which it is.
type certificateDER struct{ runtime.Codec }

func (c certificateDER) Encode(obj runtime.Object, w io.Writer) error {
	if ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate); ok {
		if der, ok := canonicalDER(ic.Spec.Certificate); ok {
			stored := *ic
			stored.Spec.Certificate = der
			return c.Codec.Encode(&stored, w)
		}
	}
	return c.Codec.Encode(obj, w)
}

func (c certificateDER) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	obj, gvk, err := c.Codec.Decode(data, defaults, into)
	if ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate); ok && err == nil {
		if cert := ic.Spec.Certificate; len(cert) > 0 && cert[0] == 0x30 {
			ic.Spec.Certificate = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert})
		}
	}
	return obj, gvk, err
}

// canonicalDER returns the DER of a PEM that is exactly one CERTIFICATE block as
// pem.EncodeToMemory writes it, so that the PEM can be rebuilt from it exactly.
func canonicalDER(data []byte) ([]byte, bool) {
	block, rest := pem.Decode(data)
	if block == nil || len(rest) > 0 || block.Type != "CERTIFICATE" || len(block.Headers) > 0 || len(block.Bytes) == 0 || block.Bytes[0] != 0x30 {
		return nil, false
	}
	if !bytes.Equal(pem.EncodeToMemory(block), data) {
		return nil, false
	}
	return block.Bytes, true
}
