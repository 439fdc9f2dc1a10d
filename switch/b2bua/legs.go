package b2bua

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

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

// WaitAnswer sends the CANCEL itself rather than leave it to sipgo, which
// gives up on the INVITE when the CANCEL is not answered 200: a carrier
// whose 200 crossed our CANCEL has ended its INVITE transaction with that
// 200 and may answer the CANCEL 481 (RFC 3261 section 9.2), and its 200
// would then never be ACKed nor its leg ended. Here the wait goes on for
// the INVITE's final response whatever the CANCEL's, for up to 64*T1
// (section 9.1).
func (c sipgoCarrier) WaitAnswer(ctx context.Context, username, password string, onResponse func(*sip.Response)) (*sip.Response, error) {
	var cancelReq atomic.Pointer[sip.Request]
	provisional := make(chan struct{})
	var once sync.Once
	// wait ends only to give up without a CANCEL; finished when sipgo returns.
	wait, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stop(nil)
	finished := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-finished:
			return
		}
		if context.Cause(ctx) == errCarrierSilent {
			stop(sipgo.WaitAnswerForceCancelErr)
			return
		}
		select {
		case <-provisional: // nothing may be cancelled before a provisional response (section 9.1)
		case <-finished:
			return
		}
		cctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-finished:
			case <-cctx.Done():
			}
			cancel() // the INVITE has its final response: the CANCEL's no longer matters
		}()
		_, _ = c.cs.UA.Client.Do(cctx, cancelReq.Load(), asBuilt)
		select {
		case <-finished:
		case <-time.After(64 * sip.T1):
			stop(sipgo.WaitAnswerForceCancelErr)
		}
	})
	err := c.cs.WaitAnswer(wait, sipgo.AnswerOptions{
		Username: username, Password: password,
		OnResponse: func(res *sip.Response) error {
			if res.IsProvisional() {
				// Built here, in the goroutine that alone changes the
				// INVITE (a digest retry gives it a new Via and CSeq).
				cancelReq.Store(cancelRequest(c.cs.InviteRequest))
				once.Do(func() { close(provisional) })
			}
			onResponse(res)
			return nil
		},
	})
	close(finished)
	wg.Wait()
	res := c.cs.InviteResponse
	var dr *sipgo.ErrDialogResponse
	switch {
	case ctx.Err() != nil && err == nil && res != nil && res.IsSuccess():
		// The 200 crossed our CANCEL: the dialog is the one it made.
		return res, ctx.Err()
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &dr):
		return dr.Res, nil
	case err != nil:
		return nil, err
	}
	return res, nil
}

// cancelRequest is the CANCEL of inv (RFC 3261 section 9.1): its Request-URI,
// top Via, From, To, Call-ID, CSeq number and Route.
func cancelRequest(inv *sip.Request) *sip.Request {
	r := sip.NewRequest(sip.CANCEL, inv.Recipient)
	r.AppendHeader(sip.HeaderClone(inv.Via()))
	sip.CopyHeaders("Route", inv, r)
	mf := sip.MaxForwardsHeader(70)
	r.AppendHeader(&mf)
	r.AppendHeader(sip.HeaderClone(inv.From()))
	r.AppendHeader(sip.HeaderClone(inv.To()))
	r.AppendHeader(sip.HeaderClone(inv.CallID()))
	r.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	r.SetBody(nil)
	r.SetTransport(inv.Transport())
	r.SetSource(inv.Source())
	r.SetDestination(inv.Destination())
	r.Laddr = inv.Laddr
	return r
}

// asBuilt sends a request as it is: no header of the client's added.
func asBuilt(*sipgo.Client, *sip.Request) error { return nil }

func (c sipgoCarrier) Ack(ctx context.Context) error { return c.cs.Ack(ctx) }
func (c sipgoCarrier) Bye(ctx context.Context) error { return c.cs.Bye(ctx) }

func (c sipgoCarrier) ReadBye(req *sip.Request, tx sip.ServerTransaction) error {
	return c.cs.ReadBye(req, tx)
}
