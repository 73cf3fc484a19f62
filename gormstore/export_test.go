package gormstore

// SetBeforeBackfill makes the stores built with cfg call f after the
// backfill of their per-user index has read each page, before it writes it.
func SetBeforeBackfill(cfg *Config, f func()) { cfg.beforeBackfill = f }

// Transient reports whether g's retry runs a statement again after err.
func Transient(g *GORMStore, err error) bool { return g.store.Transient(err) }
