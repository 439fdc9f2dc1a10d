// Package trunks owns where a call goes: the dialed number normalized to
// E.164 and classified into dialtone.NumberTypes (mobile, fixed, toll-free,
// premium, other), the route table
// that maps a number to carrier trunks in order (listed, least cost, or
// weighted), the rewriting of a number for a carrier, and each carrier's
// live state (channels, calls per second, health) in a Gate.
//
// It is pure logic: no SIP, no SQL, no media; prices come in through a
// function the caller gives, time through a clock func.
//
// Concurrency: a Table is immutable once built and safe for concurrent
// use; a new configuration builds a new one. A Gate is safe for concurrent
// use. Health is used by the one goroutine that pings its carrier.
package trunks
