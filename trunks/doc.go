// Package trunks owns where a call goes: the dialed number normalized to
// E.164 and classified into dialtone.NumberTypes (mobile, fixed, toll-free,
// premium, other), the route table
// that maps a number to carrier trunks in order (listed, least cost, or
// weighted), the rewriting of a number for a carrier, each carrier's live
// state (channels, calls per second, health) in a Gate, and the Router
// that assembles a call's attempts from all of these. It also owns the
// trunks: and routes: sections of the configuration file (Config), their
// defaults and their validation.
//
// It is pure logic: no SIP, no SQL, no media; prices come in through a
// Cost func, DNS through a Resolver, time through a clock func. The parts
// that speak to carriers are its sub-packages: health (OPTIONS checks),
// registrant (outbound REGISTER) and srv (DNS SRV).
//
// Concurrency: a Table and a Carriers are immutable once built and safe
// for concurrent use; a new configuration builds new ones and Router.Set
// swaps them in. A Gate and a Router are safe for concurrent use. Health
// is used by the one goroutine that pings its carrier. Loops owns the
// per-carrier goroutines of health checks and registrations.
package trunks
