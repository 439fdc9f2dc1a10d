package b2bua

import (
	"errors"

	"github.com/dialtone/dialtone"
)

// outcome is how a failed call attempt ends: what finance reads in the CDR
// and what the app is told.
type outcome struct {
	disposition dialtone.Disposition
	code        int
	reason      string
}

// carrierOutcome maps a carrier's final non-2xx response to the app's
// response. failover reports whether another carrier may be tried: only
// for errors of the carrier itself (RFC 3261 section 21.5, 408), never
// after a final answer of the far end such as 486, 404 or 603.
func carrierOutcome(code int, reason string) (o outcome, failover bool) {
	switch code {
	case 408:
		return outcome{dialtone.Failed, 408, "Request Timeout"}, true
	case 500, 502, 503, 504:
		return outcome{dialtone.Failed, 503, "Service Unavailable"}, true
	case 480:
		return outcome{dialtone.NoAnswer, 480, reasonOr(reason, "Temporarily Unavailable")}, false
	case 486, 600:
		return outcome{dialtone.Busy, code, reasonOr(reason, "Busy Here")}, false
	case 487:
		return outcome{dialtone.Cancelled, 487, "Request Terminated"}, false
	}
	switch {
	case code >= 400 && code < 500, code >= 600 && code < 700:
		return outcome{dialtone.Failed, code, reasonOr(reason, "Call Failed")}, false
	case code >= 500 && code < 600:
		// Other server errors of the carrier (501, 505, 513, 580) are not
		// the far end's answer: another carrier may do better.
		return outcome{dialtone.Failed, 503, "Service Unavailable"}, true
	}
	return outcome{dialtone.Failed, 500, "Server Internal Error"}, false
}

// errorOutcome is the one table from domain errors to SIP responses.
func errorOutcome(err error) outcome {
	var limit *dialtone.LimitError
	switch {
	case errors.As(err, &limit):
		return outcome{dialtone.Failed, 403, "Forbidden: over the account's " + string(limit.Limit) + " limit"}
	case errors.Is(err, dialtone.ErrInvalidNumber):
		return outcome{dialtone.Failed, 484, "Address Incomplete: not a valid phone number"}
	case errors.Is(err, dialtone.ErrNoRoute):
		return outcome{dialtone.Failed, 404, "Not Found: no route to this destination"}
	case errors.Is(err, dialtone.ErrInsufficientFunds):
		return outcome{dialtone.Failed, 402, "Payment Required: not enough credit"}
	case errors.Is(err, dialtone.ErrCallerID):
		return outcome{dialtone.Failed, 403, "Forbidden: caller ID not allowed"}
	case errors.Is(err, dialtone.ErrBlocked):
		return outcome{dialtone.Failed, 403, "Forbidden: destination blocked"}
	case errors.Is(err, dialtone.ErrNoPlan):
		return outcome{dialtone.Failed, 403, "Forbidden: no rate plan"}
	case errors.Is(err, dialtone.ErrNoRate):
		return outcome{dialtone.Failed, 403, "Forbidden: this destination is not available"}
	case errors.Is(err, dialtone.ErrForbidden):
		return outcome{dialtone.Failed, 403, "Forbidden"}
	case errors.Is(err, dialtone.ErrNoCodec), errors.Is(err, dialtone.ErrInvalid):
		return outcome{dialtone.Failed, 488, "Not Acceptable Here: no common audio codec"}
	case errors.Is(err, dialtone.ErrUnavailable):
		return outcome{dialtone.Failed, 503, "Service Unavailable"}
	}
	return outcome{dialtone.Failed, 500, "Server Internal Error"}
}

func reasonOr(reason, fallback string) string {
	if reason == "" {
		return fallback
	}
	return reason
}
