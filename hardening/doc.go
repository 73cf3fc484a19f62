// Package hardening holds the tests that check the promises of the store
// contract across every store at once: logout races through the real SCS
// and gorilla/sessions flows, fuzzing of tokens and payloads, and faults.
// It has no API; see SECURITY.md for the threat model these tests cover.
package hardening
