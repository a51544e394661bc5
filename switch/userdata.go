package pbx

// KV is one key-value pair of attached data.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// UserData is the attached data that travels with an interaction: ordered
// key-value pairs, keys unique. The zero value is empty and ready to use.
type UserData []KV

// Get returns the value of key.
func (u UserData) Get(key string) (string, bool) {
	for _, kv := range u {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// Set adds key or replaces its value, keeping the order of first insertion.
func (u *UserData) Set(key, value string) {
	for i := range *u {
		if (*u)[i].Key == key {
			(*u)[i].Value = value
			return
		}
	}
	*u = append(*u, KV{key, value})
}

// Delete removes key.
func (u *UserData) Delete(key string) {
	for i := range *u {
		if (*u)[i].Key == key {
			*u = append((*u)[:i], (*u)[i+1:]...)
			return
		}
	}
}

// Clone returns a copy that shares nothing with u.
func (u UserData) Clone() UserData {
	if len(u) == 0 {
		return nil
	}
	return append(UserData(nil), u...)
}

// Map returns the pairs as a map.
func (u UserData) Map() map[string]string {
	m := make(map[string]string, len(u))
	for _, kv := range u {
		m[kv.Key] = kv.Value
	}
	return m
}
