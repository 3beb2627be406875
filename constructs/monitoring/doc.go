// Package monitoring models observability: kube-prometheus-stack
// (Prometheus on a Longhorn volume, Alertmanager, Grafana with its admin
// credentials from a Secret and dashboards as code), the monitors that
// scrape Flux, Longhorn, ingress-nginx and cloudflared, and the alert
// rules the homelab needs.
package monitoring
