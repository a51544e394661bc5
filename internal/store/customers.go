package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/internal/fold"
)

// Customer is a customer of the center.
type Customer struct {
	ID int64
	// Number is the customer number, the customer's key: unique, compared
	// without regard to ASCII case.
	Number   string
	Name     string
	Email    string
	Language string
	// Postcode is a fact the bot may ask to verify the customer
	// (compared without regard to case and spaces).
	Postcode string
	Created  time.Time
}

// Order is a customer's order, as the bot reports its status.
type Order struct {
	ID         string
	CustomerID int64
	Status     string
	Updated    time.Time
}

// OrderSeed is an order in a center's demo data; it names its customer by
// number.
type OrderSeed struct {
	ID       string
	Customer string // customer number
	Status   string
	Updated  time.Time
}

// NameKey folds a name the way FindCustomer compares names: Unicode
// compatibility form, case folded, runs of spaces as one, no leading or
// trailing space. "  JOSÉ   da Silva " and "josé da silva" have one key.
func NameKey(name string) string { return fold.Name(name) }

func emailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// checkEmail accepts "" or something shaped like local@domain.
func checkEmail(email string) error {
	if email == "" {
		return nil
	}
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n<>,;") {
		return fmt.Errorf("email %q is not an address: %w", email, ErrInvalid)
	}
	return nil
}

// clean trims the fields and checks them.
func (c *Customer) clean() error {
	c.Number = strings.TrimSpace(c.Number)
	c.Name = strings.TrimSpace(c.Name)
	c.Email = strings.TrimSpace(c.Email)
	c.Language = strings.TrimSpace(c.Language)
	c.Postcode = strings.TrimSpace(c.Postcode)
	if c.Number == "" {
		return fmt.Errorf("empty customer number: %w", ErrInvalid)
	}
	return checkEmail(c.Email)
}

const customerCols = "id, number, name, email, language, postcode, created"

func scanCustomer(r scanner) (Customer, error) {
	var c Customer
	var created sql.NullInt64
	err := r.Scan(&c.ID, &c.Number, &c.Name, &c.Email, &c.Language, &c.Postcode, &created)
	c.Created = decTime(created)
	return c, err
}

// PutCustomer inserts the customer, or updates the one with the same
// Number (its name, e-mail, language and postcode become c's; its id and creation
// time stay). c.ID is ignored; c.Created, when zero, is now. It returns the
// customer as stored.
func (s *Store) PutCustomer(ctx context.Context, c Customer) (Customer, error) {
	if err := c.clean(); err != nil {
		return Customer{}, fmt.Errorf("store: put customer: %w", err)
	}
	if c.Created.IsZero() {
		c.Created = s.now()
	}
	var out Customer
	err := s.update(ctx, "put customer "+c.Number, func(tx txn) error {
		var err error
		out, err = putCustomer(ctx, tx, c, true)
		return err
	})
	return out, err
}

// putCustomer inserts c, or updates (overwrite) or keeps the customer with
// its number. c is clean.
func putCustomer(ctx context.Context, tx txn, c Customer, overwrite bool) (Customer, error) {
	old, err := scanCustomer(tx.QueryRowContext(ctx, "SELECT "+customerCols+" FROM customers WHERE number = ?", c.Number))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res, err := tx.ExecContext(ctx, `INSERT INTO customers (number, name, name_key, email, email_key, language, postcode, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Number, c.Name, NameKey(c.Name), c.Email, emailKey(c.Email), c.Language, c.Postcode, c.Created.UnixNano())
		if err != nil {
			return Customer{}, fmt.Errorf("store: put customer %s: %w", c.Number, err)
		}
		if c.ID, err = res.LastInsertId(); err != nil {
			return Customer{}, fmt.Errorf("store: put customer %s: %w", c.Number, err)
		}
		c.Created = c.Created.Round(0).UTC()
		return c, nil
	case err != nil:
		return Customer{}, fmt.Errorf("store: put customer %s: %w", c.Number, err)
	case !overwrite:
		return old, nil
	}
	_, err = tx.ExecContext(ctx, `UPDATE customers SET number = ?, name = ?, name_key = ?, email = ?, email_key = ?, language = ?, postcode = ?
		WHERE id = ?`,
		c.Number, c.Name, NameKey(c.Name), c.Email, emailKey(c.Email), c.Language, c.Postcode, old.ID)
	if err != nil {
		return Customer{}, fmt.Errorf("store: put customer %s: %w", c.Number, err)
	}
	c.ID, c.Created = old.ID, old.Created
	return c, nil
}

// Customer returns the customer with that id.
func (s *Store) Customer(ctx context.Context, id int64) (Customer, bool, error) {
	c, err := scanCustomer(s.rdb.QueryRowContext(ctx, "SELECT "+customerCols+" FROM customers WHERE id = ?", id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Customer{}, false, nil
	case err != nil:
		return Customer{}, false, fmt.Errorf("store: customer %d: %w", id, err)
	}
	return c, true, nil
}

// FindCustomer finds a customer by what a customer types to identify
// themself: the customer number (ASCII case ignored), else the e-mail
// address (case ignored), else the name (NameKey: case, spacing and Unicode
// form ignored, otherwise exact). When several customers share the e-mail
// address or the name, it returns not found and an error wrapping
// ErrAmbiguous, so the caller can ask for the customer number instead.
func (s *Store) FindCustomer(ctx context.Context, key string) (Customer, bool, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return Customer{}, false, fmt.Errorf("store: find customer: empty key: %w", ErrInvalid)
	}
	lookups := []struct {
		by, where, arg string
	}{
		{"number", "number = ?", key},
		{"e-mail address", "email_key = ? AND email_key <> ''", emailKey(key)},
		{"name", "name_key = ? AND name_key <> ''", NameKey(key)},
	}
	for _, l := range lookups {
		found, err := queryAll(ctx, s.rdb, scanCustomer,
			"SELECT "+customerCols+" FROM customers WHERE "+l.where+" ORDER BY id LIMIT 10", l.arg)
		switch {
		case err != nil:
			return Customer{}, false, fmt.Errorf("store: find customer %q by %s: %w", key, l.by, err)
		case len(found) == 1:
			return found[0], true, nil
		case len(found) > 1:
			n := fmt.Sprint(len(found))
			if len(found) == 10 {
				n = "10 or more"
			}
			return Customer{}, false, fmt.Errorf("store: find customer %q: %s customers have that %s: %w", key, n, l.by, ErrAmbiguous)
		}
	}
	return Customer{}, false, nil
}

// clean trims the fields and checks them.
func (o *Order) clean() error {
	o.ID = strings.TrimSpace(o.ID)
	o.Status = strings.TrimSpace(o.Status)
	switch {
	case o.ID == "":
		return fmt.Errorf("empty order id: %w", ErrInvalid)
	case o.Status == "":
		return fmt.Errorf("order %s: empty status: %w", o.ID, ErrInvalid)
	case o.CustomerID <= 0:
		return fmt.Errorf("order %s: no customer id: %w", o.ID, ErrInvalid)
	}
	return nil
}

// PutOrder inserts the order or replaces the one with its id. o.Updated,
// when zero, is now. The customer must exist.
func (s *Store) PutOrder(ctx context.Context, o Order) (Order, error) {
	if err := o.clean(); err != nil {
		return Order{}, fmt.Errorf("store: put order: %w", err)
	}
	if o.Updated.IsZero() {
		o.Updated = s.now()
	}
	o.Updated = o.Updated.Round(0).UTC()
	err := s.update(ctx, "put order "+o.ID, func(tx txn) error {
		ok, err := customerExists(ctx, tx, o.CustomerID)
		if err != nil {
			return fmt.Errorf("store: put order %s: %w", o.ID, err)
		}
		if !ok {
			return fmt.Errorf("store: put order %s: unknown customer id %d: %w", o.ID, o.CustomerID, ErrInvalid)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO orders (id, customer_id, status, updated) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, status = excluded.status, updated = excluded.updated`,
			o.ID, o.CustomerID, o.Status, o.Updated.UnixNano())
		if err != nil {
			return fmt.Errorf("store: put order %s: %w", o.ID, err)
		}
		return nil
	})
	if err != nil {
		return Order{}, err
	}
	return o, nil
}

func scanOrder(r scanner) (Order, error) {
	var o Order
	var updated sql.NullInt64
	err := r.Scan(&o.ID, &o.CustomerID, &o.Status, &updated)
	o.Updated = decTime(updated)
	return o, err
}

// Order returns the order with that id.
func (s *Store) Order(ctx context.Context, id string) (Order, bool, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return Order{}, false, fmt.Errorf("store: order: empty id: %w", ErrInvalid)
	}
	o, err := scanOrder(s.rdb.QueryRowContext(ctx, "SELECT id, customer_id, status, updated FROM orders WHERE id = ?", id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Order{}, false, nil
	case err != nil:
		return Order{}, false, fmt.Errorf("store: order %s: %w", id, err)
	}
	return o, true, nil
}

// OrdersOf returns the customer's orders, the most recently updated first.
func (s *Store) OrdersOf(ctx context.Context, customerID int64) ([]Order, error) {
	out, err := queryAll(ctx, s.rdb, scanOrder, `SELECT id, customer_id, status, updated FROM orders
		WHERE customer_id = ? ORDER BY updated DESC, id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("store: orders of customer %d: %w", customerID, err)
	}
	return out, nil
}

// Seed makes sure the customers and orders of a center's demo data exist.
// It inserts those that are missing (a customer by number, an order by id)
// and leaves existing ones as they are, so running it at every start is
// harmless and never undoes what customers or agents changed since. An
// order's customer must be in customers or already stored. Every entry is
// checked first: one bad entry is an error naming it, and nothing is
// written.
func (s *Store) Seed(ctx context.Context, customers []Customer, orders []OrderSeed) error {
	now := s.now()
	customers, orders = slices.Clone(customers), slices.Clone(orders) // clean edits them
	numbers := make(map[string]int, len(customers))
	for i := range customers {
		c := &customers[i]
		if err := c.clean(); err != nil {
			return fmt.Errorf("store: seed: customer %d: %w", i, err)
		}
		k := strings.ToLower(c.Number)
		if j, dup := numbers[k]; dup {
			return fmt.Errorf("store: seed: customers %d and %d have the same number %q: %w", j, i, c.Number, ErrInvalid)
		}
		numbers[k] = i
		if c.Created.IsZero() {
			c.Created = now
		}
	}
	ids := make(map[string]int, len(orders))
	for i := range orders {
		o := &orders[i]
		o.ID = strings.TrimSpace(o.ID)
		o.Customer = strings.TrimSpace(o.Customer)
		o.Status = strings.TrimSpace(o.Status)
		switch {
		case o.ID == "":
			return fmt.Errorf("store: seed: order %d: empty id: %w", i, ErrInvalid)
		case o.Customer == "":
			return fmt.Errorf("store: seed: order %d (%s): empty customer number: %w", i, o.ID, ErrInvalid)
		case o.Status == "":
			return fmt.Errorf("store: seed: order %d (%s): empty status: %w", i, o.ID, ErrInvalid)
		}
		if j, dup := ids[o.ID]; dup {
			return fmt.Errorf("store: seed: orders %d and %d have the same id %q: %w", j, i, o.ID, ErrInvalid)
		}
		ids[o.ID] = i
		if o.Updated.IsZero() {
			o.Updated = now
		}
	}
	return s.update(ctx, "seed", func(tx txn) error {
		for i, c := range customers {
			if _, err := putCustomer(ctx, tx, c, false); err != nil {
				return fmt.Errorf("store: seed: customer %d: %w", i, err)
			}
		}
		for i, o := range orders {
			var cid int64
			err := tx.QueryRowContext(ctx, "SELECT id FROM customers WHERE number = ?", o.Customer).Scan(&cid)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("store: seed: order %d (%s): unknown customer number %q: %w", i, o.ID, o.Customer, ErrInvalid)
			}
			if err != nil {
				return fmt.Errorf("store: seed: order %d (%s): %w", i, o.ID, err)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO orders (id, customer_id, status, updated) VALUES (?, ?, ?, ?)
				ON CONFLICT (id) DO NOTHING`, o.ID, cid, o.Status, o.Updated.UnixNano())
			if err != nil {
				return fmt.Errorf("store: seed: order %d (%s): %w", i, o.ID, err)
			}
		}
		return nil
	})
}
