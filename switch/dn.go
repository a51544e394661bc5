package pbx

import "fmt"

// DNType says what a directory number is.
type DNType uint8

// The kinds of directory number.
const (
	Extension  DNType = iota // an agent's telephone or softphone
	ACDQueue                 // a queue interactions wait in
	RoutePoint               // where interactions arrive to be routed
	Trunk                    // a line to the outside network
)

var dnTypeNames = [...]string{"extension", "acd_queue", "route_point", "trunk"}

func (t DNType) String() string {
	if int(t) < len(dnTypeNames) {
		return dnTypeNames[t]
	}
	return fmt.Sprintf("dntype(%d)", t)
}

// DN is a directory number of the switch.
type DN struct {
	Number string
	Type   DNType
	// Owner is the agent ID of an extension, the queue name of an ACD
	// queue or the default queue of a route point.
	Owner string
}

// Directory holds the switch's directory numbers.
type Directory struct {
	dns map[string]DN
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory { return &Directory{dns: make(map[string]DN)} }

// Add registers dn; a number can be registered once.
func (d *Directory) Add(dn DN) error {
	if dn.Number == "" {
		return Errorf(Invalid, "pbx: empty directory number")
	}
	if old, ok := d.dns[dn.Number]; ok {
		return Errorf(Conflict, "pbx: number %s is already the %s of %s", dn.Number, old.Type, old.Owner)
	}
	d.dns[dn.Number] = dn
	return nil
}

// Lookup returns the DN registered as number.
func (d *Directory) Lookup(number string) (DN, bool) {
	dn, ok := d.dns[number]
	return dn, ok
}

// Remove unregisters number.
func (d *Directory) Remove(number string) { delete(d.dns, number) }

// Len returns the number of registered DNs.
func (d *Directory) Len() int { return len(d.dns) }
