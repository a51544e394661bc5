package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestPutCustomer(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	ann, err := s.PutCustomer(ctx, Customer{Number: " C-100 ", Name: " Ann  Lee ", Email: "Ann@Example.test", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if ann.ID == 0 || ann.Number != "C-100" || ann.Name != "Ann  Lee" || ann.Created.IsZero() {
		t.Fatalf("put returned %+v", ann)
	}
	got, ok, err := s.Customer(ctx, ann.ID)
	if err != nil || !ok || got != ann {
		t.Fatalf("Customer(%d) = %+v %v %v, want %+v", ann.ID, got, ok, err, ann)
	}

	// The number is the key, without regard to case: this updates Ann.
	upd, err := s.PutCustomer(ctx, Customer{Number: "c-100", Name: "Ann Lee-Smith", Email: "ann@smith.test", Language: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	if upd.ID != ann.ID || !upd.Created.Equal(ann.Created) || upd.Name != "Ann Lee-Smith" || upd.Language != "fr" {
		t.Fatalf("update returned %+v, want id %d created %v", upd, ann.ID, ann.Created)
	}
	if n := count(t, s, "customers"); n != 1 {
		t.Fatalf("%d customers after an update, want 1", n)
	}
	if _, ok, _ := s.FindCustomer(ctx, "ann@example.test"); ok {
		t.Error("the old e-mail address still finds the customer")
	}
	if c, ok, _ := s.FindCustomer(ctx, "ANN@smith.test"); !ok || c.ID != ann.ID {
		t.Error("the new e-mail address does not find the customer")
	}
	if _, ok, err := s.Customer(ctx, 999); ok || err != nil {
		t.Errorf("Customer(999) = %v, %v", ok, err)
	}

	for _, c := range []struct {
		name string
		in   Customer
		text string
	}{
		{"no number", Customer{Name: "Bob"}, "empty customer number"},
		{"blank number", Customer{Number: "  ", Name: "Bob"}, "empty customer number"},
		{"bad email", Customer{Number: "C-2", Email: "bob at example"}, `email "bob at example" is not an address`},
		{"email without domain", Customer{Number: "C-2", Email: "bob@"}, "is not an address"},
		{"two addresses", Customer{Number: "C-2", Email: "a@x.test, b@x.test"}, "is not an address"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.PutCustomer(ctx, c.in)
			wantErr(t, err, ErrInvalid, c.text)
			if n := count(t, s, "customers"); n != 1 {
				t.Errorf("%d customers after bad input, want 1", n)
			}
		})
	}
}

func TestFindCustomer(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	ann := MustCustomer(t, s, "C-100", "Ann Lee", "ann@example.test")
	jose := MustCustomer(t, s, "C-101", "José da Silva", "")        // é composed
	MustCustomer(t, s, "C-102", "John Smith", "john1@example.test") // two John Smiths
	MustCustomer(t, s, "C-103", "john  SMITH", "john2@example.test")
	MustCustomer(t, s, "C-104", "Kim Park", "family@example.test") // one shared address
	MustCustomer(t, s, "C-105", "Lee Park", "Family@example.test")
	MustCustomer(t, s, "C-106", "C-100", "") // a name that is another's number
	mark := MustCustomer(t, s, "C-107", "Mark Straße", "")

	for _, c := range []struct {
		name, key string
		want      int64 // 0: not found
		kind      error
		text      string
	}{
		{"number", "C-100", ann.ID, nil, ""},
		{"number lower case", "c-100", ann.ID, nil, ""},
		{"number with spaces around", "  C-100\t", ann.ID, nil, ""},
		{"number wins over a name", "C-100", ann.ID, nil, ""},
		{"email", "ann@example.test", ann.ID, nil, ""},
		{"email upper case", "ANN@Example.TEST", ann.ID, nil, ""},
		{"name", "Ann Lee", ann.ID, nil, ""},
		{"name folded", "  aNN    lEE ", ann.ID, nil, ""},
		{"name with a tab", "ann\tlee", ann.ID, nil, ""},
		{"name decomposed accent", "jose\u0301 DA silva", jose.ID, nil, ""},
		{"name full-width", "Ｊｏｓé da Silva", jose.ID, nil, ""},
		{"name case folding", "MARK STRASSE", mark.ID, nil, ""},
		{"name case folding exact", "mark STRAßE", mark.ID, nil, ""},
		{"name prefix", "Ann", 0, nil, ""},
		{"name without space", "AnnLee", 0, nil, ""},
		{"other name", "Nobody Here", 0, nil, ""},
		{"unknown number", "C-999", 0, nil, ""},
		{"unknown email", "nobody@example.test", 0, nil, ""},
		{"ambiguous name", "john smith", 0, ErrAmbiguous, "2 customers have that name"},
		{"ambiguous email", "family@example.test", 0, ErrAmbiguous, "2 customers have that e-mail address"},
		{"empty", "   ", 0, ErrInvalid, "empty key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok, err := s.FindCustomer(ctx, c.key)
			wantErr(t, err, c.kind, c.text)
			if ok != (c.want != 0) || got.ID != c.want {
				t.Errorf("FindCustomer(%q) = %d, %v; want %d", c.key, got.ID, ok, c.want)
			}
		})
	}
}

func TestNameKey(t *testing.T) {
	for in, want := range map[string]string{
		"  Ann   LEE ":       "ann lee",
		"JOSÉ":               "jos\u00e9",
		"Jose\u0301":         "jos\u00e9",
		"Ｍａｒｉａ":              "maria",
		"Straße":             "strasse",
		"":                   "",
		"\t\n":               "",
		"ἈΘΗΝᾶ ΠΑΠΑΔΟΠΟΎΛΟΥ": NameKey("ἀθηνᾶ παπαδοπούλου"),
	} {
		got := NameKey(in)
		if got != want {
			t.Errorf("NameKey(%q) = %q, want %q", in, got, want)
		}
		if again := NameKey(got); again != got {
			t.Errorf("NameKey(%q) = %q, not a fixed point", got, again)
		}
	}
}

func TestOrders(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	ann := MustCustomer(t, s, "C-100", "Ann", "")
	bob := MustCustomer(t, s, "C-101", "Bob", "")
	day := func(d int) time.Time { return t0.AddDate(0, 0, d) }
	for _, o := range []Order{
		{ID: "A-1", CustomerID: ann.ID, Status: "shipped", Updated: day(1)},
		{ID: "A-2", CustomerID: ann.ID, Status: "in preparation", Updated: day(3)},
		{ID: "A-3", CustomerID: ann.ID, Status: "delivered", Updated: day(2)},
		{ID: "B-1", CustomerID: bob.ID, Status: "cancelled"},
	} {
		got, err := s.PutOrder(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if got.Updated.IsZero() {
			t.Errorf("order %s: no update time", o.ID)
		}
	}
	o, ok, err := s.Order(ctx, "A-1")
	if err != nil || !ok || o != (Order{ID: "A-1", CustomerID: ann.ID, Status: "shipped", Updated: day(1)}) {
		t.Fatalf("Order(A-1) = %+v %v %v", o, ok, err)
	}
	if _, ok, err := s.Order(ctx, "Z-9"); ok || err != nil {
		t.Errorf("Order(Z-9) = %v %v", ok, err)
	}
	list, err := s.OrdersOf(ctx, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(os []Order) []string {
		var out []string
		for _, o := range os {
			out = append(out, o.ID)
		}
		return out
	}
	if got := ids(list); !slices.Equal(got, []string{"A-2", "A-3", "A-1"}) {
		t.Errorf("OrdersOf(ann) = %v, want the latest first", got)
	}
	// Replacing an order.
	if _, err := s.PutOrder(ctx, Order{ID: "A-1", CustomerID: ann.ID, Status: "delivered", Updated: day(4)}); err != nil {
		t.Fatal(err)
	}
	if o, _, _ := s.Order(ctx, "A-1"); o.Status != "delivered" {
		t.Errorf("status after update %q", o.Status)
	}
	if n := count(t, s, "orders"); n != 4 {
		t.Errorf("%d orders, want 4", n)
	}
	if list, _ := s.OrdersOf(ctx, 999); len(list) != 0 {
		t.Errorf("orders of nobody: %v", list)
	}

	for _, c := range []struct {
		name string
		in   Order
		text string
	}{
		{"no id", Order{CustomerID: ann.ID, Status: "x"}, "empty order id"},
		{"no status", Order{ID: "A-9", CustomerID: ann.ID}, "order A-9: empty status"},
		{"no customer", Order{ID: "A-9", Status: "x"}, "order A-9: no customer id"},
		{"unknown customer", Order{ID: "A-9", CustomerID: 999, Status: "x"}, "unknown customer id 999"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.PutOrder(ctx, c.in)
			wantErr(t, err, ErrInvalid, c.text)
			if n := count(t, s, "orders"); n != 4 {
				t.Errorf("%d orders after bad input, want 4", n)
			}
		})
	}
	_, _, err = s.Order(ctx, " ")
	wantErr(t, err, ErrInvalid, "empty id")
}

func TestSeed(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	customers := []Customer{
		{Number: "C-100", Name: "Ann Lee", Email: "ann@example.test", Language: "en"},
		{Number: "C-101", Name: "Bob Stone"},
	}
	orders := []OrderSeed{
		{ID: "A-1", Customer: "C-100", Status: "shipped"},
		{ID: "B-1", Customer: "c-101", Status: "in preparation"},
	}
	if err := s.Seed(ctx, customers, orders); err != nil {
		t.Fatal(err)
	}
	if customers[0].Created != (time.Time{}) || orders[0].Updated != (time.Time{}) {
		t.Error("Seed changed the caller's slices")
	}
	ann, ok, _ := s.FindCustomer(ctx, "C-100")
	if !ok {
		t.Fatal("seeded customer not found")
	}
	// What happened since the seed stays.
	if _, err := s.PutCustomer(ctx, Customer{Number: "C-100", Name: "Ann Lee", Email: "ann@new.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutOrder(ctx, Order{ID: "A-1", CustomerID: ann.ID, Status: "delivered"}); err != nil {
		t.Fatal(err)
	}
	// Seeding again, with one more customer and order, adds only those.
	customers = append(customers, Customer{Number: "C-102", Name: "Cy"})
	orders = append(orders, OrderSeed{ID: "C-1", Customer: "C-102", Status: "shipped"})
	for range 2 {
		if err := s.Seed(ctx, customers, orders); err != nil {
			t.Fatal(err)
		}
	}
	if n, m := count(t, s, "customers"), count(t, s, "orders"); n != 3 || m != 3 {
		t.Fatalf("%d customers, %d orders after reseeding, want 3 and 3", n, m)
	}
	if c, _, _ := s.Customer(ctx, ann.ID); c.Email != "ann@new.test" {
		t.Errorf("reseeding undid a customer's change: %+v", c)
	}
	if o, _, _ := s.Order(ctx, "A-1"); o.Status != "delivered" {
		t.Errorf("reseeding undid an order's change: %+v", o)
	}
	// An order may name a customer stored before.
	if err := s.Seed(ctx, nil, []OrderSeed{{ID: "A-2", Customer: "C-100", Status: "shipped"}}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name      string
		customers []Customer
		orders    []OrderSeed
		text      string
	}{
		{"unknown customer number", []Customer{{Number: "C-200"}}, []OrderSeed{{ID: "X-1", Customer: "C-999", Status: "new"}},
			`order 0 (X-1): unknown customer number "C-999"`},
		{"customer without number", []Customer{{Number: "C-200"}, {Name: "Nobody"}}, nil, "customer 1: empty customer number"},
		{"same number twice", []Customer{{Number: "C-200"}, {Number: "c-200"}}, nil, `customers 0 and 1 have the same number "c-200"`},
		{"bad email", []Customer{{Number: "C-200", Email: "nope"}}, nil, "customer 0: email"},
		{"order without id", []Customer{{Number: "C-200"}}, []OrderSeed{{Customer: "C-200", Status: "new"}}, "order 0: empty id"},
		{"order without customer", []Customer{{Number: "C-200"}}, []OrderSeed{{ID: "X-1", Status: "new"}}, "order 0 (X-1): empty customer number"},
		{"order without status", []Customer{{Number: "C-200"}}, []OrderSeed{{ID: "X-1", Customer: "C-200"}}, "order 0 (X-1): empty status"},
		{"same order twice", []Customer{{Number: "C-200"}},
			[]OrderSeed{{ID: "X-1", Customer: "C-200", Status: "a"}, {ID: "X-1", Customer: "C-200", Status: "b"}},
			`orders 0 and 1 have the same id "X-1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := s.Seed(ctx, c.customers, c.orders)
			wantErr(t, err, ErrInvalid, c.text)
			if n, m := count(t, s, "customers"), count(t, s, "orders"); n != 3 || m != 4 {
				t.Errorf("bad seed changed something: %d customers, %d orders", n, m)
			}
		})
	}
}
