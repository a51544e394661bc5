package live

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/sim/replay"
)

// customerPhone is a customer's phone on the replay's SIP user agent: a
// softphone of the center's customers, which registers at the switch
// with its password, or a number the switch reaches through its trunk
// (serve's --trunk pointing at the replay's --sip-listen address). Its
// fields are under Center.mu.
type customerPhone struct {
	phone, password string
	softphone       bool
	registered      bool
	auto            bool
	answerAfter     time.Duration
	ringing         []*offer // oldest first
}

// openPhones makes the phones the script names: its phone actions and
// expectations, and the numbers its callbacks call.
func (c *Center) openPhones() {
	c.customerPhones = map[string]*customerPhone{}
	passwords := map[string]string{}
	if im := c.s.Center.IM; im != nil {
		for _, cu := range im.Customers {
			for _, d := range cu.Devices {
				if d.Network == "sip" {
					passwords[d.Address] = d.Password
				}
			}
		}
	}
	add := func(p string) {
		if p == "" || c.customerPhones[p] != nil {
			return
		}
		pw, soft := passwords[p]
		c.customerPhones[p] = &customerPhone{phone: p, password: pw, softphone: soft}
	}
	for _, a := range c.s.Actions {
		add(a.Phone)
		add(a.Number)
	}
	for _, e := range c.s.Expect {
		add(e.Match.Phone)
	}
}

// phoneDo plays a customer's phone action.
func (c *Center) phoneDo(ctx context.Context, a *replay.Action) error {
	if c.ua == nil {
		return fmt.Errorf("a customer's phone needs the switch's SIP address (--sip)")
	}
	p := c.customerPhones[a.Phone]
	switch a.Do {
	case "register", "unregister":
		expires := 0
		if a.Do == "register" {
			expires = 3600
		}
		if err := c.registerUser(ctx, p.phone, p.password, expires); err != nil {
			return err
		}
		c.mu.Lock()
		p.registered = expires > 0
		if p.registered {
			p.auto, p.answerAfter = a.AnswerAfter > 0, a.AnswerAfter
		}
		c.mu.Unlock()
		return nil
	case "auto_answer", "manual":
		c.mu.Lock()
		p.auto, p.answerAfter = a.Do == "auto_answer", a.AnswerAfter
		c.mu.Unlock()
		return nil
	}
	c.mu.Lock()
	o := takeRinging(&p.ringing)
	c.mu.Unlock()
	if o == nil {
		return fmt.Errorf("nothing rings on phone %s", a.Phone)
	}
	return c.pickUp(o, p.phone, a.Do == "answer")
}

// pickUp answers (200 with an SDP, then PCMU while the call is up: see
// answerOffer) or rejects (486: busy) call o, once, on phone.
func (c *Center) pickUp(o *offer, phone string, answer bool) error {
	select {
	case <-o.decided:
		return nil
	default:
	}
	defer close(o.decided)
	if !answer {
		return o.dlg.Respond(sip.StatusBusyHere, "Busy Here", nil)
	}
	return c.answerOffer(o, "phone "+phone)
}

// customerInvite takes an INVITE for a customer's phone (a registered
// softphone, or a number of the script through the trunk): it is
// recorded as a ring, rings (180) and is answered after the phone's
// answer_after, or when the script says, or until the switch gives up.
// It reports false for an INVITE that is not a customer's.
func (c *Center) customerInvite(req *sip.Request, tx sip.ServerTransaction) bool {
	c.mu.Lock()
	p := c.customerPhones[req.Recipient.User]
	if p == nil || p.softphone && !p.registered {
		c.mu.Unlock()
		return false
	}
	auto, after := p.auto, p.answerAfter
	if !c.over {
		c.rec.Rings = append(c.rec.Rings, replay.Ring{At: time.Since(c.start), Phone: p.phone})
	}
	c.mu.Unlock()
	dlg, err := c.in.ReadInvite(req, tx)
	if err != nil {
		return true
	}
	if err := dlg.Respond(sip.StatusRinging, "Ringing", nil); err != nil {
		return true
	}
	o := &offer{dlg: dlg, tx: tx, decided: make(chan struct{})}
	c.mu.Lock()
	p.ringing = append(p.ringing, o)
	c.mu.Unlock()
	var answerAt <-chan time.Time
	if auto {
		t := time.NewTimer(after)
		defer t.Stop()
		answerAt = t.C
	}
	select {
	case <-answerAt:
		c.mu.Lock()
		if i := slices.Index(p.ringing, o); i >= 0 {
			p.ringing = slices.Delete(p.ringing, i, i+1)
		}
		c.mu.Unlock()
		_ = c.pickUp(o, p.phone, true)
	case <-o.decided:
	case <-tx.Done():
	case <-c.ctx.Done():
	}
	return true
}

// unregisterPhones unregisters the softphones still registered.
func (c *Center) unregisterPhones(ctx context.Context) {
	for _, p := range c.customerPhones {
		c.mu.Lock()
		reg := p.registered
		p.registered = false
		c.mu.Unlock()
		if reg {
			_ = c.registerUser(ctx, p.phone, p.password, 0)
		}
	}
}
