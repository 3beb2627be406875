package certs

import (
	"cmp"
	"slices"

	"github.com/aws/constructs-go/constructs/v10"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// CertificateProps configure a Certificate.
type CertificateProps struct {
	// Name and Namespace of the Certificate. Required.
	Name, Namespace string
	// SecretName is the TLS Secret cert-manager keeps the certificate in
	// (tls.crt, tls.key). Default: Name.
	SecretName string
	// DNSNames it is for; a leading "*." makes a wildcard. Required.
	DNSNames []string
	// Issuer issues it; it must serve every name. Required.
	Issuer Issuer
}

// Certificate is a cert-manager Certificate: a TLS Secret cert-manager
// issues and renews (an ECDSA P-256 key, replaced on every renewal).
type Certificate struct {
	constructs.Construct
	info *core.Info
	// SecretName holds the issued certificate; Object is the Certificate.
	SecretName string
	Object     *cmapi.Certificate

	props CertificateProps
}

// NewCertificate adds a Certificate below scope, a chart applied after
// cert-manager's CRDs.
func NewCertificate(scope constructs.Construct, id string, props *CertificateProps) *Certificate {
	props = cmp.Or(props, &CertificateProps{})
	c := &Certificate{SecretName: cmp.Or(props.SecretName, props.Name), props: *props}
	c.props.DNSNames = slices.Clone(props.DNSNames)
	c.info = core.Init(c, scope, id)
	c.Object = &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: props.Name, Namespace: props.Namespace},
		Spec: cmapi.CertificateSpec{
			SecretName: c.SecretName, DNSNames: c.props.DNSNames,
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256, RotationPolicy: cmapi.RotationPolicyAlways},
		},
	}
	if props.Issuer != nil {
		c.Object.Spec.IssuerRef = props.Issuer.Ref()
	}
	kube.NewObject(c, "certificate", c.Object)
	c.info.Tree().AddValidation(c.validate)
	return c
}

// Info returns the construct's place in the tree.
func (c *Certificate) Info() *core.Info { return c.info }

// ToString overrides the jsii method; it returns the construct path.
func (c *Certificate) ToString() *string { return core.PathString(c.info) }

// DNSNames are the names it is for.
func (c *Certificate) DNSNames() []string { return slices.Clone(c.props.DNSNames) }

// validate refuses a name that is not a DNS name, and one the issuer
// cannot issue for: cert-manager would retry it forever and the host
// would serve ingress-nginx's self-signed default certificate.
func (c *Certificate) validate() []error {
	p := c.info.Path()
	var errs []error
	if len(c.props.DNSNames) == 0 {
		errs = append(errs, core.Errorf(p, "set CertificateProps.DNSNames to the hosts it is for", "the certificate names no host"))
	}
	if c.props.Issuer == nil {
		return append(errs, core.Errorf(p, "set CertificateProps.Issuer (an internal CA for LAN names, ACME for names in your Cloudflare zone)",
			"no issuer for %v", c.props.DNSNames))
	}
	for _, h := range c.props.DNSNames {
		if problem := hostProblem(h); problem != "" {
			errs = append(errs, core.Errorf(p, "use a DNS name such as \"app.home.arpa\" (or \"*.home.arpa\")", "%s", problem))
			continue
		}
		if ok, problem, fix := c.props.Issuer.Serves(h); !ok {
			errs = append(errs, core.Errorf(p, fix, "no issuer can serve host %q: %s", h, problem))
		}
	}
	return errs
}
