package apiserver

import (
	"bytes"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/testkit"
)

// TestCertificateStoredAsDER: a record's certificate is stored as DER and read back as the
// very PEM written; a PEM that could not be rebuilt exactly is stored as given.
func TestCertificateStoredAsDER(t *testing.T) {
	codec, _, err := serverstorage.NewStorageCodec(serverstorage.StorageCodecConfig{
		StorageMediaType: runtime.ContentTypeCBOR, StorageSerializer: StorageCodecs,
		StorageVersion: kcsrv1alpha1.SchemeGroupVersion,
		MemoryVersion:  schema.GroupVersion{Group: kcsrv1alpha1.GroupName, Version: runtime.APIVersionInternal},
		Config:         storagebackend.Config{},
	})
	testkit.NoError(t, err, "storage codec")
	codec = certificateDER{codec}
	ca := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	canonical := pemutil.EncodeCertificate(ca.Cert.Raw)
	for _, tc := range []struct {
		name  string
		pem   []byte
		asDER bool
	}{
		{"one canonical block", canonical, true},
		{"a chain", append(bytes.Clone(canonical), canonical...), false},
		{"text before the block", append([]byte("subject=CN x\n"), canonical...), false},
		{"no trailing newline", bytes.TrimSuffix(canonical, []byte("\n")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ic := &kcsrv1alpha1.IssuedCertificate{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: kcsrv1alpha1.IssuedCertificateSpec{Certificate: tc.pem}}
			var stored bytes.Buffer
			testkit.NoError(t, codec.Encode(ic, &stored), "Encode")
			if got := bytes.Contains(stored.Bytes(), ca.Cert.Raw) && !bytes.Contains(stored.Bytes(), []byte("-----BEGIN")); got != tc.asDER {
				t.Errorf("stored as DER: %v; want %v", got, tc.asDER)
			}
			if !bytes.Equal(ic.Spec.Certificate, tc.pem) {
				t.Errorf("Encode changed the object it was given")
			}
			out, _, err := codec.Decode(stored.Bytes(), nil, &kcsrv1alpha1.IssuedCertificate{})
			testkit.NoError(t, err, "Decode")
			if got := out.(*kcsrv1alpha1.IssuedCertificate).Spec.Certificate; !bytes.Equal(got, tc.pem) {
				t.Errorf("read back %q; want the PEM written, %q", got, tc.pem)
			}
		})
	}
}
