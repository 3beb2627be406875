package kube

import (
	"cmp"
	"slices"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/funoffshore/homelab/constructs/core"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NamespaceProps configures a Namespace.
type NamespaceProps struct {
	// Name of the namespace. Default: the construct id.
	Name string
	// PodSecurity is the Pod Security Standard enforced in the namespace:
	// "privileged", "baseline" or "restricted". Default: "" (the cluster
	// default; Talos enforces "baseline").
	PodSecurity string
	// Labels and Annotations are added to the namespace's metadata.
	Labels, Annotations map[string]string
}

// NewNamespace adds a Namespace below scope.
func NewNamespace(scope constructs.Construct, id string, props *NamespaceProps) *Object {
	props = cmp.Or(props, &NamespaceProps{})
	name := cmp.Or(props.Name, id)
	labels := map[string]string{}
	for k, v := range props.Labels {
		labels[k] = v
	}
	if props.PodSecurity != "" {
		labels["pod-security.kubernetes.io/enforce"] = props.PodSecurity
		labels["pod-security.kubernetes.io/enforce-version"] = "latest"
	}
	if len(labels) == 0 {
		labels = nil
	}
	o := NewObject(scope, id, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: props.Annotations}})
	if level := props.PodSecurity; level != "" && !slices.Contains(podSecurityLevels, level) {
		o.info.Tree().AddValidation(func() []error {
			return []error{core.Errorf(o.info.Path(), "use privileged, baseline or restricted",
				"Pod Security level %q of namespace %q is no Pod Security Standard level", level, name)}
		})
	}
	return o
}

// podSecurityLevels are the Pod Security Standards.
var podSecurityLevels = []string{"privileged", "baseline", "restricted"}
