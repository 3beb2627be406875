package review

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// summary is the first line of both formats.
func (r *Report) summary() string {
	if r.Empty() {
		return "no change: both sides render the same tree"
	}
	var layers []string
	for _, l := range []struct {
		name string
		n    int
	}{{"proxmox", len(r.Proxmox)}, {"talos", len(r.Talos)}, {"kubernetes", r.objectChanges()}, {"charts", len(r.Charts)}} {
		if l.n > 0 {
			layers = append(layers, fmt.Sprintf("%s %d", l.name, l.n))
		}
	}
	return fmt.Sprintf("%d hazard(s); changes: %s", len(r.Hazards), strings.Join(layers, ", "))
}

func (r *Report) objectChanges() int {
	n := 0
	for _, g := range r.Kubernetes {
		n += len(g.Changes)
	}
	return n
}

func indent(s, prefix string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix) + "\n"
}

func line(c Change) string {
	s := c.Op + " " + c.Object
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	return s
}

// Text writes the review for a terminal: hazards first, then each layer
// with its changes and their diffs, indented.
func (r *Report) Text(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "homelab diff: %s\n", r.summary())
	if len(r.Hazards) > 0 {
		b.WriteString("\nHAZARDS\n")
		for _, h := range r.Hazards {
			fmt.Fprintf(&b, "  ! %s: %s: %s\n", h.Layer, h.Object, h.What)
		}
	}
	if len(r.Proxmox) > 0 {
		b.WriteString("\nPROXMOX\n")
		for _, c := range r.Proxmox {
			fmt.Fprintf(&b, "  %s\n", line(c))
		}
	}
	if len(r.Talos) > 0 {
		b.WriteString("\nTALOS\n")
		for _, t := range r.Talos {
			fmt.Fprintf(&b, "  ~ %s (%s): %s\n", t.File, strings.Join(t.Nodes, ", "), t.Takes)
			b.WriteString(indent(t.Diff, "      "))
		}
	}
	if len(r.Kubernetes) > 0 {
		b.WriteString("\nKUBERNETES (by Flux Kustomization)\n")
		for _, g := range r.Kubernetes {
			fmt.Fprintf(&b, "  %s\n", g.Kustomization)
			for _, c := range g.Changes {
				fmt.Fprintf(&b, "    %s\n", line(c))
				b.WriteString(indent(c.Diff, "        "))
			}
		}
	}
	if len(r.Charts) > 0 {
		b.WriteString("\nCHARTS (rendered with each side's values)\n")
		for _, cd := range r.Charts {
			fmt.Fprintf(&b, "  %s: %s -> %s\n", cd.Release, cd.From, cd.To)
			if cd.Note != "" {
				fmt.Fprintf(&b, "    (%s)\n", cd.Note)
			}
			for _, c := range cd.Changes {
				fmt.Fprintf(&b, "    %s\n", line(c))
				b.WriteString(indent(c.Diff, "        "))
			}
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Marker starts the Markdown review: the workflow finds its own comment
// on a pull request by it, to update it rather than add another.
const Marker = "<!-- homelab diff -->"

// Markdown writes the review for a pull request comment: hazards as a
// list, each layer in a collapsible section with its diffs.
func (r *Report) Markdown(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n### homelab diff\n\n%s\n", Marker, r.summary())
	if len(r.Hazards) > 0 {
		b.WriteString("\n#### :warning: Hazards\n\n")
		for _, h := range r.Hazards {
			fmt.Fprintf(&b, "- **%s** `%s`: %s\n", h.Layer, h.Object, h.What)
		}
	}
	section := func(title string, n int, body func()) {
		if n == 0 {
			return
		}
		fmt.Fprintf(&b, "\n<details><summary>%s (%d)</summary>\n\n", title, n)
		body()
		b.WriteString("\n</details>\n")
	}
	diff := func(d string) {
		if d != "" {
			fmt.Fprintf(&b, "\n```diff\n%s\n```\n\n", strings.TrimRight(d, "\n"))
		}
	}
	section("Proxmox", len(r.Proxmox), func() {
		for _, c := range r.Proxmox {
			fmt.Fprintf(&b, "- `%s` %s\n", c.Op, strings.TrimPrefix(line(c), c.Op+" "))
		}
	})
	section("Talos", len(r.Talos), func() {
		for _, t := range r.Talos {
			fmt.Fprintf(&b, "- `%s` (%s): %s\n", t.File, strings.Join(t.Nodes, ", "), t.Takes)
			diff(t.Diff)
		}
	})
	section("Kubernetes", r.objectChanges(), func() {
		for _, g := range r.Kubernetes {
			fmt.Fprintf(&b, "\n**%s**\n\n", g.Kustomization)
			for _, c := range g.Changes {
				fmt.Fprintf(&b, "- `%s` %s\n", c.Op, strings.TrimPrefix(line(c), c.Op+" "))
				diff(c.Diff)
			}
		}
	})
	section("Charts", len(r.Charts), func() {
		for _, cd := range r.Charts {
			fmt.Fprintf(&b, "\n**%s**: %s -> %s\n\n", cd.Release, cd.From, cd.To)
			if cd.Note != "" {
				fmt.Fprintf(&b, "_%s_\n\n", cd.Note)
			}
			for _, c := range cd.Changes {
				fmt.Fprintf(&b, "- `%s` %s\n", c.Op, strings.TrimPrefix(line(c), c.Op+" "))
				diff(c.Diff)
			}
		}
	})
	_, err := w.Write(b.Bytes())
	return err
}
