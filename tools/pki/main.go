// Command pki writes the key material of a throwaway test control plane into one directory:
//
//	ca.crt, ca.key                      a self-signed P-256 CA
//	<server>.crt, <server>.key          a serving certificate for the -host names and IPs
//	<client>.crt, <client>.key          one client certificate per -client flag
//	sa.key, sa.pub                      the service-account token signing key pair
//
// Keys are PKCS#8 ("PRIVATE KEY"), public keys PKIX ("PUBLIC KEY"), everything PEM: what
// kube-apiserver, kube-controller-manager and Node's TLS stack read. Certificates are valid
// for -days from one hour ago (tolerates a little clock skew between the processes).
//
//	pki -dir DIR -server apiserver -host 127.0.0.1,localhost \
//	    -client 'admin=admin;system:masters' -client 'kcm=system:kube-controller-manager'
//
// A -client value is FILE=COMMON_NAME[;ORGANIZATION...]: Kubernetes reads the CN as the user
// name and each O as a group.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type clientFlags []string

func (c *clientFlags) String() string     { return strings.Join(*c, ",") }
func (c *clientFlags) Set(v string) error { *c = append(*c, v); return nil }

type issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func main() {
	dir := flag.String("dir", "", "output directory (must exist)")
	server := flag.String("server", "apiserver", "file name (without extension) of the serving certificate")
	hosts := flag.String("host", "127.0.0.1,localhost", "comma-separated IPs and DNS names of the serving certificate")
	days := flag.Int("days", 7, "validity in days")
	var clients clientFlags
	flag.Var(&clients, "client", "FILE=CN[;O...]: a client certificate (repeatable)")
	flag.Parse()
	if *dir == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*dir, *server, strings.Split(*hosts, ","), clients, time.Duration(*days)*24*time.Hour); err != nil {
		fmt.Fprintln(os.Stderr, "pki:", err)
		os.Exit(1)
	}
}

func run(dir, server string, hosts []string, clients []string, validity time.Duration) error {
	notBefore := time.Now().Add(-time.Hour)
	notAfter := notBefore.Add(validity)

	caKey, err := newKey()
	if err != nil {
		return err
	}
	caTemplate := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "api-controller-test-ca"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := sign(caTemplate, caTemplate, caKey, caKey)
	if err != nil {
		return fmt.Errorf("CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	ca := issuer{cert: caCert, key: caKey}
	if err := writePair(dir, "ca", caDER, caKey); err != nil {
		return err
	}

	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		switch ip := net.ParseIP(h); {
		case h == "":
		case ip != nil:
			serving.IPAddresses = append(serving.IPAddresses, ip)
		default:
			serving.DNSNames = append(serving.DNSNames, h)
		}
	}
	if len(serving.IPAddresses)+len(serving.DNSNames) == 0 {
		return errors.New("-host names no IP or DNS name")
	}
	if err := leaf(dir, server, serving, ca); err != nil {
		return err
	}

	for _, c := range clients {
		file, subject, ok := strings.Cut(c, "=")
		parts := strings.Split(subject, ";")
		if !ok || file == "" || parts[0] == "" {
			return fmt.Errorf("-client %q: want FILE=CN[;O...]", c)
		}
		template := &x509.Certificate{
			Subject:     pkix.Name{CommonName: parts[0], Organization: parts[1:]},
			NotBefore:   notBefore,
			NotAfter:    notAfter,
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if err := leaf(dir, file, template, ca); err != nil {
			return err
		}
	}

	saKey, err := newKey()
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, "sa.key"), saKey); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, "sa.pub"), "PUBLIC KEY", pub, 0o644)
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// sign certifies subject's public key: a random 128-bit serial (unique without a serial file),
// signed by signer as parent.
func sign(template, parent *x509.Certificate, subject crypto.Signer, signer crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	template.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, template, parent, subject.Public(), signer)
}

func leaf(dir, name string, template *x509.Certificate, ca issuer) error {
	key, err := newKey()
	if err != nil {
		return err
	}
	der, err := sign(template, ca.cert, key, ca.key)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return writePair(dir, name, der, key)
}

func writePair(dir, name string, der []byte, key crypto.Signer) error {
	if err := writePEM(filepath.Join(dir, name+".crt"), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	return writeKey(filepath.Join(dir, name+".key"), key)
}

func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

func writePEM(path, blockType string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), mode)
}
