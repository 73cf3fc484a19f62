package bunstore

// SetBeforeBackfill makes the stores built with cfg call f after the
// backfill of their per-user index has read each page, before it writes it.
func SetBeforeBackfill(cfg *Config, f func()) { cfg.beforeBackfill = f }
