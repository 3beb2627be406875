package monitoring

import (
	"cmp"
	"encoding/json"
	"fmt"
	"k8s.io/apimachinery/pkg/util/validation"
	"net"
	"net/mail"
	"slices"

	"github.com/aws/constructs-go/constructs/v10"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// Receiver is where alerts are sent. Make one with WebhookReceiver,
// EmailReceiver, TelegramReceiver or DiscordReceiver; its credentials are
// read from a Secret (kept SOPS-encrypted in the store), never from props.
type Receiver struct {
	name   string
	target string
	secret string
	keys   []string
	config func(secret string) monitoringv1alpha1.Receiver
	// problems are what the constructor found wrong in its arguments,
	// reported with the construct path by NewAlerting.
	problems []string
}

// String says where the receiver sends alerts ("telegram chat 42").
func (r Receiver) String() string { return r.name + " " + r.target }

// Name is the receiver's name in the Alertmanager config.
func (r Receiver) Name() string { return r.name }

// Secret returns the Secret holding the receiver's credentials and the
// keys it must have; declare it with secret.New.
func (r Receiver) Secret() (name string, keys []string) { return r.secret, r.keys }

func selector(secret, key string) *corev1.SecretKeySelector {
	return &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}
}

// WebhookReceiver posts alerts to the URL in key "url" of secret.
func WebhookReceiver(secret string) Receiver {
	return Receiver{name: "webhook", target: "URL in secret " + secret, secret: secret, keys: []string{"url"}, config: func(s string) monitoringv1alpha1.Receiver {
		return monitoringv1alpha1.Receiver{WebhookConfigs: []monitoringv1alpha1.WebhookConfig{{SendResolved: ptr.To(true), URLSecret: selector(s, "url")}}}
	}}
}

// EmailReceiver mails alerts to to, from from, through the SMTP server
// smarthost ("smtp.example.org:587") as username; the password is key
// "password" of secret.
func EmailReceiver(to, from, smarthost, username, secret string) Receiver {
	var problems []string
	for _, a := range []struct{ field, v string }{{"to", to}, {"from", from}} {
		if _, err := mail.ParseAddress(a.v); err != nil {
			problems = append(problems, fmt.Sprintf("email %s address %q does not parse: %v", a.field, a.v, err))
		}
	}
	if host, port, err := net.SplitHostPort(smarthost); err != nil || host == "" || port == "" {
		problems = append(problems, fmt.Sprintf("SMTP smarthost %q is not host:port (such as \"smtp.example.org:587\")", smarthost))
	}
	return Receiver{name: "email", target: "to " + to, secret: secret, keys: []string{"password"}, problems: problems, config: func(s string) monitoringv1alpha1.Receiver {
		return monitoringv1alpha1.Receiver{EmailConfigs: []monitoringv1alpha1.EmailConfig{{
			SendResolved: ptr.To(true), To: &to, From: &from, Smarthost: &smarthost, AuthUsername: &username, AuthPassword: selector(s, "password"),
		}}}
	}}
}

// TelegramReceiver sends alerts to the Telegram chat chatID with the bot
// whose token is key "bot-token" of secret.
func TelegramReceiver(chatID int64, secret string) Receiver {
	var problems []string
	if chatID == 0 {
		problems = append(problems, "Telegram chat ID 0 names no chat (find yours with the bot's getUpdates)")
	}
	return Receiver{name: "telegram", target: fmt.Sprintf("chat %d", chatID), secret: secret, keys: []string{"bot-token"}, problems: problems, config: func(s string) monitoringv1alpha1.Receiver {
		return monitoringv1alpha1.Receiver{TelegramConfigs: []monitoringv1alpha1.TelegramConfig{{
			SendResolved: ptr.To(true), ChatID: chatID, BotToken: selector(s, "bot-token"), ParseMode: "HTML",
		}}}
	}}
}

// DiscordReceiver posts alerts to the Discord webhook URL in key
// "webhook-url" of secret.
func DiscordReceiver(secret string) Receiver {
	return Receiver{name: "discord", target: "webhook in secret " + secret, secret: secret, keys: []string{"webhook-url"}, config: func(s string) monitoringv1alpha1.Receiver {
		return monitoringv1alpha1.Receiver{DiscordConfigs: []monitoringv1alpha1.DiscordConfig{{SendResolved: ptr.To(true), APIURL: *selector(s, "webhook-url")}}}
	}}
}

// AlertingProps configures Alerting.
type AlertingProps struct {
	// Receiver gets every alert but Watchdog and InfoInhibitor. Required.
	Receiver Receiver
	// Name of the AlertmanagerConfig. Default: "homelab".
	Name string
}

// Alerting is the Alertmanager configuration of a Stack: one receiver for
// every alert, grouped per alert and namespace; the chart's Watchdog (an
// always-firing heartbeat) and InfoInhibitor go nowhere; critical alerts
// silence warnings and infos of the same alert, warnings silence infos.
// It is an AlertmanagerConfig custom resource, so it belongs in a chart
// applied after the stack is ready; the stack's Alertmanager uses it as
// its whole configuration.
type Alerting struct {
	constructs.Construct
	info *core.Info

	// Config is the AlertmanagerConfig.
	Config *monitoringv1alpha1.AlertmanagerConfig
}

// NullReceiver receives the alerts that must go nowhere.
const NullReceiver = "null"

// NewAlerting adds the Alertmanager configuration for stack below scope.
func NewAlerting(scope constructs.Construct, id string, stack *Stack, props *AlertingProps) *Alerting {
	props = cmp.Or(props, &AlertingProps{})
	name := cmp.Or(props.Name, "homelab")
	a := &Alerting{}
	a.info = core.Init(a, scope, id)
	t := a.info.Tree()
	r := props.Receiver
	if r.config == nil {
		t.AddValidation(func() []error {
			return []error{core.Errorf(a.info.Path(), "set AlertingProps.Receiver with monitoring.TelegramReceiver, DiscordReceiver, EmailReceiver or WebhookReceiver",
				"alerts have no receiver: Alertmanager would send them nowhere")}
		})
		return a
	}
	if len(r.problems) > 0 || !validSecretName(r.secret) {
		problems := slices.Clone(r.problems)
		if !validSecretName(r.secret) {
			problems = append(problems, fmt.Sprintf("credentials Secret name %q is not a valid Kubernetes name", r.secret))
		}
		t.AddValidation(func() []error {
			var errs []error
			for _, pr := range problems {
				errs = append(errs, core.Errorf(a.info.Path(), "fix the receiver's arguments", "%s receiver: %s", r.name, pr))
			}
			return errs
		})
	}
	rc := r.config(r.secret)
	rc.Name = r.name
	dur := func(s string) *monitoringv1.NonEmptyDuration { d := monitoringv1.NonEmptyDuration(s); return &d }
	eq := func(label, value string) monitoringv1alpha1.Matcher {
		return monitoringv1alpha1.Matcher{Name: label, Value: value, MatchType: monitoringv1alpha1.MatchEqual}
	}
	var children []apiextensionsv1.JSON
	for _, alert := range []string{"Watchdog", "InfoInhibitor"} {
		raw, err := json.Marshal(monitoringv1alpha1.Route{Receiver: NullReceiver, Matchers: []monitoringv1alpha1.Matcher{eq("alertname", alert)}})
		if err != nil {
			panic(fmt.Sprintf("monitoring: a route of constants does not marshal: %v", err))
		}
		children = append(children, apiextensionsv1.JSON{Raw: raw})
	}
	a.Config = &monitoringv1alpha1.AlertmanagerConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: stack.Namespace},
		Spec: monitoringv1alpha1.AlertmanagerConfigSpec{
			Route: &monitoringv1alpha1.Route{
				Receiver: r.name, GroupBy: []string{"alertname", "namespace"},
				GroupWait: dur("30s"), GroupInterval: dur("5m"), RepeatInterval: dur("12h"),
				Routes: children,
			},
			Receivers: []monitoringv1alpha1.Receiver{{Name: NullReceiver}, rc},
			InhibitRules: []monitoringv1alpha1.InhibitRule{
				{SourceMatch: []monitoringv1alpha1.Matcher{eq("severity", "critical")},
					TargetMatch: []monitoringv1alpha1.Matcher{{Name: "severity", Value: "warning|info", MatchType: monitoringv1alpha1.MatchRegexp}},
					Equal:       []string{"namespace", "alertname"}},
				{SourceMatch: []monitoringv1alpha1.Matcher{eq("severity", "warning")},
					TargetMatch: []monitoringv1alpha1.Matcher{eq("severity", "info")}, Equal: []string{"namespace", "alertname"}},
				{SourceMatch: []monitoringv1alpha1.Matcher{eq("alertname", "InfoInhibitor")},
					TargetMatch: []monitoringv1alpha1.Matcher{eq("severity", "info")}, Equal: []string{"namespace"}},
			},
		},
	}
	kube.NewObject(a, "config", a.Config)
	for _, k := range r.keys {
		core.Secrets.Of(t).Refer(core.SecretRef{Namespace: stack.Namespace, Name: r.secret, Key: k, Source: a.info.Path()})
	}
	stack.values.Alertmanager.AlertmanagerSpec.AlertmanagerConfiguration = &struct {
		Name string `json:"name"`
	}{name}
	return a
}

// Info returns the construct's place in the tree.
func (a *Alerting) Info() *core.Info { return a.info }

// ToString overrides the jsii method; it returns the construct path.
func (a *Alerting) ToString() *string { return core.PathString(a.info) }

func validSecretName(name string) bool { return len(validation.IsDNS1123Subdomain(name)) == 0 }
