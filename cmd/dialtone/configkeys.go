package main

import (
	"encoding"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// checkKeys walks the parsed file beside the type it is decoded into and
// reports the first key that type does not have, or the first value that
// does not fit its field, by its key path: "log.colour: unknown key",
// "trunks[0].max_channels: "two" is not a whole number". The YAML
// decoder says the same by line and Go type only ("field colour not
// found in type main.LogConfig"). Nothing is decoded into the
// configuration here: each value is tried on a fresh value of its type.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			if err := checkKeys(c, t, path); err != nil {
				return err
			}
		}
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.ShortTag() == "!!null" || decodesItself(t) {
		return checkValue(n, t, path)
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // a merge key: what it merges is checked where it was written
				continue
			}
			key := join(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				return unknownKey(key, k.Value, fields)
			}
			if err := checkKeys(v, ft, key); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			if err := checkKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if err := checkValue(k, t.Key(), path); err != nil {
				return err
			}
			if err := checkKeys(v, t.Elem(), join(path, k.Value)); err != nil {
				return err
			}
		}
		return nil
	}
	return checkValue(n, t, path)
}

// checkValue decodes n into a new value of t and names the key on failure.
func checkValue(n *yaml.Node, t reflect.Type, path string) error {
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		where := path
		if where == "" {
			where = fmt.Sprintf("line %d", n.Line)
		}
		return fmt.Errorf("%s: %s", where, decodeProblem(err, n, t))
	}
	return nil
}

// decodesItself is true for types that read their own YAML or text
// (durations, decimals, trunks.Duration): they are values, not sections.
func decodesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(reflect.TypeFor[yaml.Unmarshaler]()) || p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) || t == reflect.TypeFor[time.Duration]()
}

// yamlFields are the keys a struct takes, as yaml.v3 names them (inline
// structs' keys included), each with its field's type.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// unknownKey says the key is not one of its section's, suggesting the
// nearest when it is one or two edits away (realmm, adress).
func unknownKey(key, name string, fields map[string]reflect.Type) error {
	best, bestD := "", 3
	for k := range fields {
		if d := editDistance(strings.ToLower(name), k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Errorf("%s: unknown key (did you mean %s?)", key, best)
	}
	return fmt.Errorf("%s: unknown key", key)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// cannotUnmarshal is yaml.v3's message for a value of the wrong type.
var cannotUnmarshal = regexp.MustCompile("cannot unmarshal !!(\\w+)(?: `((?s).*)`)? into (\\S+)$")

// decodeProblem says in words why n does not fit t.
func decodeProblem(err error, n *yaml.Node, t reflect.Type) string {
	msg := err.Error()
	if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if i := strings.Index(msg, ": "); strings.HasPrefix(msg, "line ") && i > 0 {
		msg = msg[i+2:]
	}
	m := cannotUnmarshal.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	value := m[2]
	switch m[1] {
	case "map":
		value = "a mapping"
	case "seq":
		value = "a list"
	default:
		value = fmt.Sprintf("%q", value)
	}
	return fmt.Sprintf("%s is not %s", value, want(t))
}

// want names what a value of t is written as.
func want(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration such as 30s or 5m"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.String:
		return "a single value"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return "a mapping of keys to values"
	}
	return "a " + t.String()
}
