package memstore

// expiryHeap is a binary min-heap of entries ordered by expiry. Each entry
// records its position, so that an entry can be moved or removed in
// O(log n) when its session is committed again or deleted.
type expiryHeap []*entry

func (h expiryHeap) min() *entry {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}

func (h *expiryHeap) push(e *entry) {
	e.index = len(*h)
	*h = append(*h, e)
	h.up(e.index)
}

func (h *expiryHeap) pop() *entry {
	e := (*h)[0]
	h.remove(e)
	return e
}

func (h *expiryHeap) remove(e *entry) {
	old := *h
	i, last := e.index, len(old)-1
	if i != last {
		old.swap(i, last)
	}
	old[last] = nil
	*h = old[:last]
	if i != last {
		h.fix((*h)[i])
	}
	e.index = -1
	if cap(*h) > 1024 && len(*h) < cap(*h)/4 {
		*h = append(expiryHeap(nil), *h...) // give memory back after a mass expiry
	}
}

// fix restores the heap order after e's expiry changed.
func (h expiryHeap) fix(e *entry) {
	if !h.down(e.index) {
		h.up(e.index)
	}
}

func (h expiryHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h expiryHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if h[i].expiry <= h[j].expiry {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h expiryHeap) down(i0 int) bool {
	i, n := i0, len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h[r].expiry < h[l].expiry {
			j = r
		}
		if h[j].expiry >= h[i].expiry {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
