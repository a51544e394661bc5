package tserver

// positions counts, for Position, the interactions ahead of one in its
// queue in O(log waiting) instead of walking the queue: an order-statistics
// tree (a treap with subtree sizes) of the queue's waiting interactions in
// the order Position counts them, higher priority first, then the
// priority's FIFO order (before). That order holds only while priorities
// do not change with time, so queues with aging walk as before. A queue
// gets its tree at its first Position and keeps it up to date from then
// on: a center nobody asks (the simulator) pays nothing. A contact's
// place is found by its key (bucket priority, first, arrived, seq), which
// must not change while it is queued (as the bucket's order needs too).
type positions struct {
	root *posNode
}

type posNode struct {
	c           *Contact
	priority    int // the contact's bucket's priority
	heap        uint64
	left, right *posNode
	size        int
}

func (n *posNode) len() int {
	if n == nil {
		return 0
	}
	return n.size
}

func (n *posNode) fix() { n.size = 1 + n.left.len() + n.right.len() }

// posAhead reports whether the contact c of priority p counts before the
// contact d of priority q.
func posAhead(c *Contact, p int, d *Contact, q int) bool {
	if p != q {
		return p > q
	}
	return before(c, d)
}

// treapPriority spreads a contact's sequence number (SplitMix64) into the
// treap's heap priority: deterministic, and no draw from the server's
// generator.
func treapPriority(seq uint64) uint64 {
	z := seq + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// buildPositions files every waiting contact of q.
func buildPositions(q *queue) *positions {
	t := &positions{}
	for _, b := range q.buckets {
		for c := b.head; c != nil; c = c.next {
			t.add(c, b.priority)
		}
	}
	return t
}

// add files c, of bucket priority p.
func (t *positions) add(c *Contact, p int) {
	n := &posNode{c: c, priority: p, heap: treapPriority(c.seq), size: 1}
	l, r := split(t.root, c, p)
	t.root = merge(merge(l, n), r)
}

// split cuts the tree at n into those before (c, p) and the others.
func split(n *posNode, c *Contact, p int) (l, r *posNode) {
	if n == nil {
		return nil, nil
	}
	if posAhead(n.c, n.priority, c, p) {
		n.right, r = split(n.right, c, p)
		n.fix()
		return n, r
	}
	l, n.left = split(n.left, c, p)
	n.fix()
	return l, n
}

// merge joins two trees, every contact of l before every one of r.
func merge(l, r *posNode) *posNode {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.heap > r.heap:
		l.right = merge(l.right, r)
		l.fix()
		return l
	}
	r.left = merge(l, r.left)
	r.fix()
	return r
}

// remove takes c, of bucket priority p, out of the tree.
func (t *positions) remove(c *Contact, p int) {
	t.root = removeNode(t.root, c, p)
}

func removeNode(n *posNode, c *Contact, p int) *posNode {
	if n == nil {
		return nil
	}
	if n.c == c {
		return merge(n.left, n.right)
	}
	if posAhead(c, p, n.c, n.priority) {
		n.left = removeNode(n.left, c, p)
	} else {
		n.right = removeNode(n.right, c, p)
	}
	n.fix()
	return n
}

// ahead counts the contacts filed before c, of bucket priority p.
func (t *positions) ahead(c *Contact, p int) int {
	count := 0
	for n := t.root; n != nil; {
		switch {
		case n.c == c:
			return count + n.left.len()
		case posAhead(n.c, n.priority, c, p):
			count += n.left.len() + 1
			n = n.right
		default:
			n = n.left
		}
	}
	return count
}
