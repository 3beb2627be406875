// Package telemetry is the platform's logs and traces, beside the
// metrics of package monitoring: Loki keeps the logs (single binary, on a
// volume, with retention and alerting rules its ruler sends to the
// monitoring stack's Alertmanager), Tempo keeps the traces (monolithic,
// on a volume), and Grafana Alloy collects both on every node: every
// pod's log files, the cluster's events, the Talos services' and the
// kernel's logs that each node sends to it, and OTLP traces from the
// apps and the ingress controller. Each is a platform part (LokiPart,
// TempoPart, CollectorPart); the collector sends to the ones the homelab
// runs, and Grafana gets each as a datasource, correlated with the
// others.
package telemetry
