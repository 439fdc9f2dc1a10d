package b2bua

import (
	"context"
	"errors"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// legs makes the two legs of calls: it reads the app's INVITE into an
// app leg and sends INVITEs to carriers. sipgoLegs is the one used on the
// wire; the unit tests use fakes.
type legs interface {
	// Accept takes the app's INVITE as the server side of a dialog.
	Accept(req *sip.Request, tx sip.ServerTransaction) (appLeg, error)
	// Invite sends inv to a carrier. The carrier leg exists once the
	// request is out; its responses are read with WaitAnswer.
	Invite(ctx context.Context, inv *sip.Request) (carrierLeg, error)
}

// appLeg is the app's side of a call: its INVITE, answered by us as a UAS.
type appLeg interface {
	// Invite is the app's INVITE; responses and the BYE are built from it.
	Invite() *sip.Request
	// Context ends when the app CANCELs its INVITE (the transaction layer
	// has then answered it 487) or the dialog ends.
	Context() context.Context
	// Provisional sends a 180 or 183.
	Provisional(res *sip.Response) error
	// Answer sends the 2xx and retransmits it until the app's ACK
	// (RFC 3261 section 13.3.1.4).
	Answer(res *sip.Response) error
	// Reject sends a final non-2xx through the INVITE transaction, which
	// retransmits it and absorbs the ACK (RFC 3261 section 17.2.1).
	Reject(res *sip.Response) error
	// Bye ends the dialog.
	Bye(ctx context.Context, bye *sip.Request) error
	// ReadAck and ReadBye take the app's in-dialog requests; ReadBye
	// answers the BYE.
	ReadAck(req *sip.Request, tx sip.ServerTransaction) error
	ReadBye(req *sip.Request, tx sip.ServerTransaction) error
	// Close forgets the dialog.
	Close() error
}

// carrierLeg is one INVITE to a carrier, as a UAC.
type carrierLeg interface {
	// WaitAnswer waits for the carrier's final response, passing every
	// response to onResponse as it comes and answering 401/407 challenges
	// with username and password. When ctx ends first the INVITE is
	// CANCELled (RFC 3261 section 9.1: after a provisional response) and
	// the wait goes on for the carrier's final response to that; a ctx
	// whose cause is errCarrierSilent ends the wait at once, without a
	// CANCEL.
	//
	// It returns the final response when there is one, and an error when
	// the wait ended without an answer the call may use:
	//   - 2xx, nil: answered;
	//   - non-2xx, nil: refused;
	//   - 2xx, error: the answer crossed our CANCEL; the leg must be ACKed
	//     and ended with BYE;
	//   - nil, error: no final response (ctx ended, transport failure).
	WaitAnswer(ctx context.Context, username, password string, onResponse func(*sip.Response)) (*sip.Response, error)
	// Ack confirms the 2xx.
	Ack(ctx context.Context) error
	// Bye ends the confirmed dialog.
	Bye(ctx context.Context) error
	// ReadBye takes and answers the carrier's BYE.
	ReadBye(req *sip.Request, tx sip.ServerTransaction) error
}

// errCarrierSilent, as the cause of WaitAnswer's context, ends the wait
// without a CANCEL: nothing may be cancelled before a response.
var errCarrierSilent = sipgo.WaitAnswerForceCancelErr

// sipgoLegs are the legs on the wire, on sipgo dialogs.
type sipgoLegs struct {
	ua sipgo.DialogUA
}

func (l sipgoLegs) Accept(req *sip.Request, tx sip.ServerTransaction) (appLeg, error) {
	dlg, err := l.ua.ReadInvite(req, tx)
	if err != nil {
		return nil, err
	}
	return sipgoApp{dlg: dlg, tx: tx}, nil
}

func (l sipgoLegs) Invite(ctx context.Context, inv *sip.Request) (carrierLeg, error) {
	cs, err := l.ua.WriteInvite(ctx, inv)
	if err != nil {
		return nil, err
	}
	return sipgoCarrier{cs}, nil
}

type sipgoApp struct {
	dlg *sipgo.DialogServerSession
	tx  sip.ServerTransaction
}

func (a sipgoApp) Invite() *sip.Request                            { return a.dlg.InviteRequest }
func (a sipgoApp) Context() context.Context                        { return a.dlg.Context() }
func (a sipgoApp) Provisional(res *sip.Response) error             { return a.dlg.WriteResponse(res) }
func (a sipgoApp) Answer(res *sip.Response) error                  { return a.dlg.WriteResponse(res) }
func (a sipgoApp) Reject(res *sip.Response) error                  { return a.tx.Respond(res) }
func (a sipgoApp) Bye(ctx context.Context, bye *sip.Request) error { return a.dlg.WriteBye(ctx, bye) }
func (a sipgoApp) Close() error                                    { return a.dlg.Close() }

func (a sipgoApp) ReadAck(req *sip.Request, tx sip.ServerTransaction) error {
	return a.dlg.ReadAck(req, tx)
}

func (a sipgoApp) ReadBye(req *sip.Request, tx sip.ServerTransaction) error {
	return a.dlg.ReadBye(req, tx)
}

type sipgoCarrier struct {
	cs *sipgo.DialogClientSession
}

func (c sipgoCarrier) WaitAnswer(ctx context.Context, username, password string, onResponse func(*sip.Response)) (*sip.Response, error) {
	err := c.cs.WaitAnswer(ctx, sipgo.AnswerOptions{
		Username: username, Password: password,
		OnResponse: func(res *sip.Response) error {
			onResponse(res)
			return nil
		},
	})
	var dr *sipgo.ErrDialogResponse
	if errors.As(err, &dr) {
		return dr.Res, nil
	}
	res := c.cs.InviteResponse
	if err != nil {
		if res != nil && res.IsSuccess() {
			// The 200 crossed our CANCEL: the dialog is the one it made.
			if id, err := sip.DialogIDFromResponse(res); err == nil {
				c.cs.ID = id
			}
			return res, err
		}
		return nil, err
	}
	return res, nil
}

func (c sipgoCarrier) Ack(ctx context.Context) error { return c.cs.Ack(ctx) }
func (c sipgoCarrier) Bye(ctx context.Context) error { return c.cs.Bye(ctx) }

func (c sipgoCarrier) ReadBye(req *sip.Request, tx sip.ServerTransaction) error {
	return c.cs.ReadBye(req, tx)
}
