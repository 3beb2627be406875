package pvesim

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Schema is the Proxmox VE API schema (apidata.js as JSON): a tree of
// paths, each with its methods' parameters.
type Schema struct {
	roots []*schemaNode
}

type schemaNode struct {
	Path     string                  `json:"path"`
	Info     map[string]schemaMethod `json:"info"`
	Children []*schemaNode           `json:"children"`
}

type schemaMethod struct {
	Permissions struct {
		Check json.RawMessage `json:"check"`
	} `json:"permissions"`
	Parameters struct {
		AdditionalProperties *int                   `json:"additionalProperties"`
		Properties           map[string]schemaParam `json:"properties"`
	} `json:"parameters"`
}

type schemaParam struct {
	Type      string          `json:"type"`
	Optional  flexNum         `json:"optional"`
	Enum      []string        `json:"enum"`
	Pattern   string          `json:"pattern"`
	Minimum   *flexNum        `json:"minimum"`
	Maximum   *flexNum        `json:"maximum"`
	MaxLength *flexNum        `json:"maxLength"`
	Format    json.RawMessage `json:"format"`
}

// flexNum is a number the schema writes as a number or a string.
type flexNum float64

// UnmarshalJSON accepts 5, "5" and null.
func (f *flexNum) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil // a non-numeric bound ("N") constrains nothing checkable
	}
	*f = flexNum(v)
	return nil
}

// LoadSchema reads the schema file.
func LoadSchema(path string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &Schema{}
	if err := json.Unmarshal(data, &s.roots); err != nil {
		return nil, fmt.Errorf("proxmox schema %s: %w", path, err)
	}
	return s, nil
}

// match finds the schema node of a concrete path and the path's
// parameters ("/nodes/pve/qemu/100" -> node=pve, vmid=100).
func (s *Schema) match(path string) (*schemaNode, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var walk func(nodes []*schemaNode) (*schemaNode, map[string]string)
	walk = func(nodes []*schemaNode) (*schemaNode, map[string]string) {
		for _, n := range nodes {
			tsegs := strings.Split(strings.Trim(n.Path, "/"), "/")
			if len(tsegs) > len(segs) {
				continue
			}
			params := map[string]string{}
			ok := true
			for i, t := range tsegs {
				if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
					params[t[1:len(t)-1]] = segs[i]
				} else if t != segs[i] {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			if len(tsegs) == len(segs) {
				return n, params
			}
			if m, p := walk(n.Children); m != nil {
				return m, p
			}
		}
		return nil, nil
	}
	return walk(s.roots)
}

var indexed = regexp.MustCompile(`^(.*)\[n\]$`)

// lookup finds a parameter's schema, including indexed ones ("net0" for "net[n]").
func (m schemaMethod) lookup(name string) (schemaParam, bool) {
	if p, ok := m.Parameters.Properties[name]; ok {
		return p, true
	}
	for k, p := range m.Parameters.Properties {
		if sub := indexed.FindStringSubmatch(k); sub != nil {
			rest := strings.TrimPrefix(name, sub[1])
			if rest != name && rest != "" && strings.Trim(rest, "0123456789") == "" {
				return p, true
			}
		}
	}
	return schemaParam{}, false
}

// validate checks params against the method's schema and returns Proxmox's
// per-parameter error messages.
func (m schemaMethod) validate(params map[string]string) map[string]string {
	errs := map[string]string{}
	for name, v := range params {
		p, ok := m.lookup(name)
		if !ok {
			if m.Parameters.AdditionalProperties == nil || *m.Parameters.AdditionalProperties == 0 {
				errs[name] = "property is not defined in schema and the schema does not allow additional properties"
			}
			continue
		}
		if msg := p.check(v); msg != "" {
			errs[name] = msg
		}
	}
	for name, p := range m.Parameters.Properties {
		if p.Optional == 1 || indexed.MatchString(name) {
			continue
		}
		if _, ok := params[name]; !ok {
			errs[name] = "property is missing and it is not optional"
		}
	}
	return errs
}

func (p schemaParam) check(v string) string {
	switch p.Type {
	case "integer":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Sprintf("type check ('integer') failed - got '%s'", v)
		}
		if p.Minimum != nil && float64(n) < float64(*p.Minimum) {
			return fmt.Sprintf("value must have a minimum value of %v", float64(*p.Minimum))
		}
		if p.Maximum != nil && float64(n) > float64(*p.Maximum) {
			return fmt.Sprintf("value must have a maximum value of %v", float64(*p.Maximum))
		}
	case "number":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Sprintf("type check ('number') failed - got '%s'", v)
		}
	case "boolean":
		switch strings.ToLower(v) {
		case "0", "1", "true", "false", "yes", "no", "on", "off":
		default:
			return fmt.Sprintf("type check ('boolean') failed - got '%s'", v)
		}
	case "string":
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, v) {
			return fmt.Sprintf("value '%s' does not have a value in the enumeration '%s'", v, strings.Join(p.Enum, ", "))
		}
		if p.Pattern != "" {
			if re, err := regexp.Compile("^(?:" + p.Pattern + ")$"); err == nil && !re.MatchString(v) {
				return fmt.Sprintf("value does not match the regex pattern")
			}
		}
		if p.MaxLength != nil && len(v) > int(*p.MaxLength) {
			return fmt.Sprintf("value may only be %d characters long", int(*p.MaxLength))
		}
		if len(p.Format) > 0 && p.Format[0] == '{' {
			return checkPropertyString(p.Format, v)
		}
	}
	return ""
}

// checkPropertyString validates "key=value,..." against a format dict
// (the first item may be the default key's bare value).
func checkPropertyString(raw json.RawMessage, v string) string {
	var format map[string]schemaParam
	if err := json.Unmarshal(raw, &format); err != nil {
		return ""
	}
	var defaultKey string
	var meta map[string]struct {
		DefaultKey int    `json:"default_key"`
		Alias      string `json:"alias"`
	}
	json.Unmarshal(raw, &meta)
	for k, m := range meta {
		if m.DefaultKey == 1 {
			defaultKey = k
		}
	}
	for i, item := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(item, "=")
		if !ok {
			if i == 0 && defaultKey != "" {
				k, val = defaultKey, item
			} else {
				return fmt.Sprintf("invalid format - missing key in comma-separated list property")
			}
		}
		f, known := format[k]
		if !known {
			// Keys such as a NIC model ("virtio=MAC") are aliases or
			// enum-named keys; accept a key that is a value of an enum.
			if enumKey(format, k) {
				continue
			}
			return fmt.Sprintf("invalid format - property '%s' is not defined in the format", k)
		}
		if msg := f.check(val); msg != "" {
			return fmt.Sprintf("invalid format - %s: %s", k, msg)
		}
	}
	return ""
}

func enumKey(format map[string]schemaParam, k string) bool {
	for _, f := range format {
		if slices.Contains(f.Enum, k) {
			return true
		}
	}
	return false
}
