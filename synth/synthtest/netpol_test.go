package synthtest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/synth/synthtest"
)

// TestPolicies evaluates hand-written policies as a CNI enforces them.
func TestPolicies(t *testing.T) {
	db := synthtest.Pod{Namespace: "data", Labels: map[string]string{"app": "db"}}
	web := synthtest.Pod{Namespace: "web", Labels: map[string]string{"app": "web"}}
	other := synthtest.Pod{Namespace: "web", Labels: map[string]string{"app": "other"}}
	ps := synthtest.Policies{
		// db admits web's pods on 5432-5433 (no policyTypes: Ingress).
		{ObjectMeta: metav1.ObjectMeta{Namespace: "data", Name: "db"}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "web"}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(5432)), EndPort: ptr.To[int32](5433)}},
			}},
		}},
		// other may only reach UDP.
		{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "other"}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolUDP)}}}},
		}},
	}
	for _, c := range []struct {
		name     string
		from, to synthtest.Pod
		port     int32
		proto    corev1.Protocol
		want     bool
	}{
		{"the admitted pod on the port", web, db, 5432, corev1.ProtocolTCP, true},
		{"the range's end", web, db, 5433, corev1.ProtocolTCP, true},
		{"past the range", web, db, 5434, corev1.ProtocolTCP, false},
		{"the other protocol", web, db, 5432, corev1.ProtocolUDP, false},
		{"another pod of the admitted namespace", synthtest.Pod{Namespace: "web", Labels: map[string]string{"app": "x"}}, db, 5432, corev1.ProtocolTCP, false},
		{"the same labels in another namespace", synthtest.Pod{Namespace: "data", Labels: map[string]string{"app": "web"}}, db, 5432, corev1.ProtocolTCP, false},
		{"egress isolated to UDP", other, web, 80, corev1.ProtocolTCP, false},
		{"egress allowed on UDP", other, web, 53, corev1.ProtocolUDP, true},
		{"no policy selects either pod", web, other, 80, corev1.ProtocolTCP, true},
	} {
		assert.Equal(t, c.want, ps.Allows(c.from, c.to, c.port, c.proto), c.name)
	}
}
