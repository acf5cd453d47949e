package pipeline

// Kept is the number of accounts whose inventory the Merger still holds.
func (m *Merger) Kept() int { return len(m.kept) }

// KeepAll makes the Merger hold every inventory, as if every key could
// reach the ranking's top.
func (m *Merger) KeepAll() { m.reach = 1 << 30 }
