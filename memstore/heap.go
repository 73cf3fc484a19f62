package memstore

// record says that token expires at expiry, or did when it was pushed.
type record struct {
	expiry int64
	token  string
}

// expiryHeap is a lazy min-heap of records ordered by expiry. A Commit
// pushes a record instead of moving the old one, which is O(1) for the usual
// commit (an expiry later than any other); the record left behind is stale
// and is dropped when it reaches the top, or when the heap is rebuilt
// because stale records outnumber live ones.
type expiryHeap []record

func (h expiryHeap) min() (record, bool) {
	if len(h) == 0 {
		return record{}, false
	}
	return h[0], true
}

func (h *expiryHeap) push(r record) {
	*h = append(*h, r)
	h.up(len(*h) - 1)
}

func (h *expiryHeap) pop() record {
	old := *h
	r, last := old[0], len(old)-1
	old[0] = old[last]
	old[last] = record{}
	*h = old[:last]
	h.down(0)
	if cap(*h) > 1024 && len(*h) < cap(*h)/4 {
		*h = append(expiryHeap(nil), *h...) // give memory back after a mass expiry
	}
	return r
}

// rebuild replaces the heap with one record per entry of live.
func (h *expiryHeap) rebuild(live func(yield func(record))) {
	fresh := (*h)[:0]
	clear((*h)[:cap(*h)])
	live(func(r record) { fresh = append(fresh, r) })
	*h = fresh
	for i := len(fresh)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h expiryHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if h[i].expiry <= h[j].expiry {
			break
		}
		h[i], h[j] = h[j], h[i]
		j = i
	}
}

func (h expiryHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && h[r].expiry < h[l].expiry {
			j = r
		}
		if h[j].expiry >= h[i].expiry {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}
