// The test control plane's certificates and keys, made with Go's standard library so that a
// machine needs no openssl CLI. No dependencies: nothing to fetch from the module proxy.
module apicontroller/tools/pki

go 1.26.0
