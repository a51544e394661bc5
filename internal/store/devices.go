package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Client is what is known of the IM software on a device. It has the
// fields of imgw.ClientInfo in the same order, so one converts to the
// other: store.Client(info).
type Client struct {
	Family   string
	Version  string
	OS       string
	Source   string
	Category string
	Type     string
	Node     string
}

// Presence is a device's presence. It has the fields of imgw.PresenceInfo
// in the same order: store.Presence(p).
type Presence struct {
	Available bool
	// Show is "" (plain available), "chat", "away", "xa" or "dnd".
	Show     string
	Status   string
	Priority int
}

// Device is one device of a customer's IM address: its client software
// (merged from every source that reported it) and its last presence.
type Device struct {
	Network string
	User    string
	Device  string // "" when the network has no devices

	Family   string
	Version  string
	OS       string
	Source   string // the last source that reported something
	Category string
	Type     string
	Node     string

	Available bool
	Show      string
	Status    string
	Priority  int

	Updated time.Time
}

// Client returns the device's client information.
func (d Device) Client() Client {
	return Client{d.Family, d.Version, d.OS, d.Source, d.Category, d.Type, d.Node}
}

// Presence returns the device's presence.
func (d Device) Presence() Presence {
	return Presence{d.Available, d.Show, d.Status, d.Priority}
}

const deviceCols = "network, im_user, device, family, version, os, source, category, type, node, available, show, status, priority, updated"

var (
	qDevice     = prep("SELECT " + deviceCols + " FROM devices WHERE network = ? AND im_user = ? AND device = ?")
	qSaveDevice = prep("INSERT OR REPLACE INTO devices (" + deviceCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
)

func scanDevice(r scanner) (Device, error) {
	var d Device
	var updated sql.NullInt64
	err := r.Scan(&d.Network, &d.User, &d.Device, &d.Family, &d.Version, &d.OS, &d.Source, &d.Category, &d.Type, &d.Node,
		&d.Available, &d.Show, &d.Status, &d.Priority, &updated)
	d.Updated = decTime(updated)
	return d, err
}

func checkAddress(what, network, user string) (string, string, error) {
	network, user = strings.TrimSpace(network), strings.TrimSpace(user)
	switch {
	case network == "":
		return "", "", fmt.Errorf("store: %s: empty network: %w", what, ErrInvalid)
	case user == "":
		return "", "", fmt.Errorf("store: %s: empty user on %s: %w", what, network, ErrInvalid)
	}
	return network, user, nil
}

// PutDeviceClient merges what a source learnt of a device's client
// software into what is stored: each non-empty field of c replaces the
// stored one, empty fields keep theirs. Information may come from several
// sources (XEP-0115 caps first, XEP-0092 version later) and late. The
// device is created if new.
func (s *Store) PutDeviceClient(ctx context.Context, network, user, device string, c Client) error {
	now := s.now()
	return s.update(ctx, "put device client", func(tx txn) error {
		return putDeviceClient(ctx, tx, now, network, user, device, c)
	})
}

func putDeviceClient(ctx context.Context, tx txn, now time.Time, network, user, device string, c Client) error {
	network, user, err := checkAddress("put device client", network, user)
	if err != nil {
		return err
	}
	device = strings.TrimSpace(device)
	d, err := loadDevice(ctx, tx, network, user, device)
	if err != nil {
		return fmt.Errorf("store: put device client %s!%s/%s: %w", network, user, device, err)
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&d.Family, c.Family}, {&d.Version, c.Version}, {&d.OS, c.OS}, {&d.Source, c.Source},
		{&d.Category, c.Category}, {&d.Type, c.Type}, {&d.Node, c.Node},
	} {
		if v := strings.TrimSpace(f.v); v != "" {
			*f.dst = v
		}
	}
	d.Updated = now
	if err := saveDevice(ctx, tx, d); err != nil {
		return fmt.Errorf("store: put device client %s!%s/%s: %w", network, user, device, err)
	}
	return nil
}

// PutDevicePresence records a device's presence: p replaces the stored
// presence (presence is a whole state), the client information stays. The
// device is created if new.
func (s *Store) PutDevicePresence(ctx context.Context, network, user, device string, p Presence) error {
	now := s.now()
	return s.update(ctx, "put device presence", func(tx txn) error {
		return putDevicePresence(ctx, tx, now, network, user, device, p)
	})
}

func putDevicePresence(ctx context.Context, tx txn, now time.Time, network, user, device string, p Presence) error {
	network, user, err := checkAddress("put device presence", network, user)
	if err != nil {
		return err
	}
	device = strings.TrimSpace(device)
	switch p.Show {
	case "", "chat", "away", "xa", "dnd":
	default:
		return fmt.Errorf("store: put device presence %s!%s/%s: show %q (want \"\", chat, away, xa or dnd): %w",
			network, user, device, p.Show, ErrInvalid)
	}
	d, err := loadDevice(ctx, tx, network, user, device)
	if err != nil {
		return fmt.Errorf("store: put device presence %s!%s/%s: %w", network, user, device, err)
	}
	d.Available, d.Show, d.Status, d.Priority = p.Available, p.Show, p.Status, p.Priority
	d.Updated = now
	if err := saveDevice(ctx, tx, d); err != nil {
		return fmt.Errorf("store: put device presence %s!%s/%s: %w", network, user, device, err)
	}
	return nil
}

// loadDevice returns the stored device or a new one.
func loadDevice(ctx context.Context, tx txn, network, user, device string) (Device, error) {
	d, err := scanDevice(tx.QueryRowContext(ctx, qDevice, network, user, device))
	if errors.Is(err, sql.ErrNoRows) {
		return Device{Network: network, User: user, Device: device}, nil
	}
	return d, err
}

func saveDevice(ctx context.Context, tx txn, d Device) error {
	_, err := tx.ExecContext(ctx, qSaveDevice,
		d.Network, d.User, d.Device, d.Family, d.Version, d.OS, d.Source, d.Category, d.Type, d.Node,
		d.Available, d.Show, d.Status, d.Priority, d.Updated.UnixNano())
	return err
}

// Devices returns the devices of an IM address, by device name.
func (s *Store) Devices(ctx context.Context, network, user string) ([]Device, error) {
	network, user, err := checkAddress("devices", network, user)
	if err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, s.rdb, scanDevice, "SELECT "+deviceCols+" FROM devices WHERE network = ? AND im_user = ? ORDER BY device",
		network, user)
	if err != nil {
		return nil, fmt.Errorf("store: devices of %s!%s: %w", network, user, err)
	}
	return out, nil
}

// AddSubscriber records that user subscribed to the center's presence on
// network (an XMPP component has no roster and keeps its subscribers
// itself). Adding a subscriber twice is not an error.
func (s *Store) AddSubscriber(network, user string) error {
	network, user, err := checkAddress("add subscriber", network, user)
	if err != nil {
		return err
	}
	now := s.now()
	return s.update(context.Background(), "add subscriber", func(tx txn) error {
		_, err := tx.Exec("INSERT INTO subscribers (network, im_user, added) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
			network, user, now.UnixNano())
		if err != nil {
			return fmt.Errorf("store: add subscriber %s!%s: %w", network, user, err)
		}
		return nil
	})
}

// RemoveSubscriber forgets a subscriber. Removing one that is not there is
// not an error.
func (s *Store) RemoveSubscriber(network, user string) error {
	network, user, err := checkAddress("remove subscriber", network, user)
	if err != nil {
		return err
	}
	return s.update(context.Background(), "remove subscriber", func(tx txn) error {
		if _, err := tx.Exec("DELETE FROM subscribers WHERE network = ? AND im_user = ?", network, user); err != nil {
			return fmt.Errorf("store: remove subscriber %s!%s: %w", network, user, err)
		}
		return nil
	})
}

// Subscribers returns the users subscribed on network, sorted.
func (s *Store) Subscribers(network string) ([]string, error) {
	network = strings.TrimSpace(network)
	if network == "" {
		return nil, fmt.Errorf("store: subscribers: empty network: %w", ErrInvalid)
	}
	out, err := queryAll(context.Background(), s.rdb, func(r scanner) (string, error) {
		var u string
		err := r.Scan(&u)
		return u, err
	}, "SELECT im_user FROM subscribers WHERE network = ? ORDER BY im_user", network)
	if err != nil {
		return nil, fmt.Errorf("store: subscribers of %s: %w", network, err)
	}
	return out, nil
}

// How an IM user came to be linked to a customer (LinkDevice).
const (
	// LinkVerified: the customer verified from that IM user (a second
	// fact, a signed hand-off).
	LinkVerified = "verified"
	// LinkRegistered: the IM user was registered for the customer (by
	// an admin, a self-service page).
	LinkRegistered = "registered"
)

// LinkDevice links an IM user (all its devices) to a customer: the chats
// that user starts then belong to that verified customer. Link only an
// IM user whose network authenticates it (an XMPP JID, not a SIP From
// anyone can write), and only after the customer verified from it or for
// a registration: a name typed from a device never links it. Linking it
// again, or to another customer, replaces the link.
func (s *Store) LinkDevice(ctx context.Context, network, user string, customerID int64, via string) error {
	now := s.now()
	return s.update(ctx, "link device", func(tx txn) error {
		return linkDevice(ctx, tx, now, network, user, customerID, via)
	})
}

var qLinkDevice = prep(`INSERT INTO device_links (network, im_user, customer_id, via, linked) VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (network, im_user) DO UPDATE SET customer_id = excluded.customer_id, via = excluded.via, linked = excluded.linked`)

func linkDevice(ctx context.Context, tx txn, now time.Time, network, user string, customerID int64, via string) error {
	network, user, err := checkAddress("link device", network, user)
	if err != nil {
		return err
	}
	if via != LinkVerified && via != LinkRegistered {
		return fmt.Errorf("store: link device %s!%s: via %q (want %s or %s): %w", network, user, via, LinkVerified, LinkRegistered, ErrInvalid)
	}
	switch ok, err := customerExists(ctx, tx, customerID); {
	case err != nil:
		return fmt.Errorf("store: link device %s!%s: %w", network, user, err)
	case !ok:
		return fmt.Errorf("store: link device %s!%s: unknown customer id %d: %w", network, user, customerID, ErrInvalid)
	}
	if _, err := tx.ExecContext(ctx, qLinkDevice, network, user, customerID, via, now.UnixNano()); err != nil {
		return fmt.Errorf("store: link device %s!%s: %w", network, user, err)
	}
	return nil
}

// UnlinkDevice removes an IM user's link. Removing one that is not there
// is not an error.
func (s *Store) UnlinkDevice(ctx context.Context, network, user string) error {
	network, user, err := checkAddress("unlink device", network, user)
	if err != nil {
		return err
	}
	return s.update(ctx, "unlink device", func(tx txn) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM device_links WHERE network = ? AND im_user = ?", network, user); err != nil {
			return fmt.Errorf("store: unlink device %s!%s: %w", network, user, err)
		}
		return nil
	})
}

// LinkedCustomer returns the customer an IM user is linked to.
func (s *Store) LinkedCustomer(ctx context.Context, network, user string) (Customer, bool, error) {
	network, user, err := checkAddress("linked customer", network, user)
	if err != nil {
		return Customer{}, false, err
	}
	c, err := scanCustomer(s.rdb.QueryRowContext(ctx, "SELECT "+prefixed("c.", customerCols)+
		" FROM device_links AS l JOIN customers AS c ON c.id = l.customer_id WHERE l.network = ? AND l.im_user = ?", network, user))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Customer{}, false, nil
	case err != nil:
		return Customer{}, false, fmt.Errorf("store: linked customer of %s!%s: %w", network, user, err)
	}
	return c, true, nil
}

// prefixed puts prefix before each of the comma-separated columns.
func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = prefix + parts[i]
	}
	return strings.Join(parts, ", ")
}
