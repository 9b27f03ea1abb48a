package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// selfSigned writes a certificate and its key as PEM files.
func selfSigned(t *testing.T, certPath, keyPath string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "berth test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	require.NoError(t, os.WriteFile(certPath, certPEM, 0o644))
	if keyPath != "" {
		kb, err := x509.MarshalECPrivateKey(key)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	}
	return der
}

// certs.d as dockerd reads it: *.crt are CAs, *.cert with *.key are
// client certificates, one without the other is an error; the first
// directory and the second both count.
func TestCertsDirs(t *testing.T) {
	berthDir, dockerDir := t.TempDir(), t.TempDir()
	host := "reg.example:5000"
	require.NoError(t, os.MkdirAll(filepath.Join(berthDir, host), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dockerDir, host), 0o755))
	ca := selfSigned(t, filepath.Join(berthDir, host, "ca.crt"), "")
	client := selfSigned(t, filepath.Join(dockerDir, host, "client.cert"), filepath.Join(dockerDir, host, "client.key"))

	c := newClient(t, Config{CertsDirs: []string{berthDir, dockerDir}})
	cfg, err := c.tlsConfig(host, false)
	require.NoError(t, err)
	assert.False(t, cfg.InsecureSkipVerify)
	caCert, err := x509.ParseCertificate(ca)
	require.NoError(t, err)
	_, err = caCert.Verify(x509.VerifyOptions{Roots: cfg.RootCAs})
	require.NoError(t, err, "the CA from certs.d is trusted")
	require.Len(t, cfg.Certificates, 1)
	assert.Equal(t, client, cfg.Certificates[0].Certificate[0])

	// Another host's directory is not read.
	cfg, err = c.tlsConfig("other:5000", false)
	require.NoError(t, err)
	assert.Nil(t, cfg.RootCAs)
	assert.Empty(t, cfg.Certificates)

	// A client certificate without its key, or a key without its
	// certificate, is an error that names the file.
	require.NoError(t, os.Remove(filepath.Join(dockerDir, host, "client.key")))
	_, err = c.tlsConfig(host, false)
	require.ErrorContains(t, err, "missing key client.key for client certificate")
	require.NoError(t, os.Remove(filepath.Join(dockerDir, host, "client.cert")))
	require.NoError(t, os.WriteFile(filepath.Join(dockerDir, host, "lone.key"), []byte("x"), 0o600))
	_, err = c.tlsConfig(host, false)
	require.ErrorContains(t, err, "missing client certificate lone.cert")
}
