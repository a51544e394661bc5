package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A path names a place in a configuration file, such as
// queues[1].overflow[0].to_queue. Errors carry it as their Field, and it
// finds the node whose line and column the error reports.
type path []step

// A step is a mapping key or, when index >= 0, a sequence index.
type step struct {
	key   string
	index int
}

// key returns p extended by a mapping key. It never shares p's array, so
// paths built from one parent stay independent.
func (p path) key(k string) path { return append(p[:len(p):len(p)], step{key: k, index: -1}) }

// index returns p extended by a sequence index.
func (p path) index(i int) path { return append(p[:len(p):len(p)], step{index: i}) }

func (p path) String() string {
	var b strings.Builder
	for i, s := range p {
		switch {
		case s.index >= 0:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case i > 0:
			b.WriteString("." + s.key)
		default:
			b.WriteString(s.key)
		}
	}
	return b.String()
}

// maxMerge bounds how deep lookup follows merge keys (<<: *base).
const maxMerge = 8

// lookup returns the node at p. When the file does not spell p out, it
// returns the deepest node on the way there, so that an error about a
// missing field points at the mapping that lacks it; found reports whether
// p itself is in the file.
func lookup(root *yaml.Node, p path) (n *yaml.Node, found bool) {
	n = resolve(root)
	if n == nil {
		return nil, false
	}
	for _, s := range p {
		next := child(n, s, 0)
		if next == nil {
			return n, false
		}
		n = next
	}
	return n, true
}

// child returns the value under key s.key, or the item at s.index, of n.
func child(n *yaml.Node, s step, merges int) *yaml.Node {
	switch {
	case s.index >= 0 && n.Kind == yaml.SequenceNode:
		if s.index < len(n.Content) {
			return resolve(n.Content[s.index])
		}
	case s.index < 0 && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == s.key && n.Content[i].ShortTag() != mergeTag {
				return resolve(n.Content[i+1])
			}
		}
		if merges >= maxMerge {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].ShortTag() != mergeTag {
				continue
			}
			bases := []*yaml.Node{resolve(n.Content[i+1])}
			if bases[0] != nil && bases[0].Kind == yaml.SequenceNode {
				bases = bases[0].Content
			}
			for _, b := range bases {
				if b = resolve(b); b == nil {
					continue
				}
				if c := child(b, s, merges+1); c != nil {
					return c
				}
			}
		}
	}
	return nil
}

const (
	mergeTag = "!!merge"
	nullTag  = "!!null"
)

// resolve skips document nodes and follows aliases.
func resolve(n *yaml.Node) *yaml.Node { return ResolveYAML(n) }

// ResolveYAML skips document nodes and follows aliases (at most 16 deep),
// for the other loaders of YAML files that name file, line and field
// (sim/replay's scripts).
func ResolveYAML(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < 16; i++ {
		switch {
		case n.Kind == yaml.DocumentNode && len(n.Content) > 0:
			n = n.Content[0]
		case n.Kind == yaml.AliasNode && n.Alias != nil && n.Alias != n:
			n = n.Alias
		default:
			return n
		}
	}
	return n
}

// walk calls visit for every mapping entry (key and value) and every
// sequence item (key nil) under n, in the order they appear in the file,
// until visit returns false. It does not follow aliases. It reports whether
// the walk ran to the end.
func walk(n *yaml.Node, p path, visit func(p path, key, val *yaml.Node) bool) bool {
	if n == nil {
		return true
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if !walk(c, p, visit) {
				return false
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			q := p.key(k.Value)
			if !visit(q, k, v) || !walk(v, q, visit) {
				return false
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			q := p.index(i)
			if !visit(q, nil, v) || !walk(v, q, visit) {
				return false
			}
		}
	}
	return true
}
