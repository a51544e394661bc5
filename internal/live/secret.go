package live

import (
	"bytes"
	"fmt"
	"os"
)

// maxSecretBytes bounds a secret file: a key or token, not a document.
const maxSecretBytes = 64 << 10

// readSecret returns the secret a center file names for what: the
// contents of file, or the value of the environment variable env (at
// most one of them is set; neither: nil). Surrounding white space (a
// file's last newline) is not part of it; an empty or missing one is an
// error naming the file or variable, never the secret.
func (c *Center) readSecret(what, file, env string) ([]byte, error) {
	switch {
	case file != "":
		fi, err := os.Stat(file)
		if err != nil {
			return nil, fmt.Errorf("live: %s: %w", what, err)
		}
		if fi.Size() > maxSecretBytes {
			return nil, fmt.Errorf("live: %s: %s has %d bytes; a secret file holds at most %d", what, file, fi.Size(), maxSecretBytes)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("live: %s: %w", what, err)
		}
		if b = bytes.TrimSpace(b); len(b) == 0 {
			return nil, fmt.Errorf("live: %s: %s is empty", what, file)
		}
		return b, nil
	case env != "":
		v := c.cfg.Getenv(env)
		if v = string(bytes.TrimSpace([]byte(v))); v == "" {
			return nil, fmt.Errorf("live: %s: the environment variable %s is not set or empty", what, env)
		}
		return []byte(v), nil
	}
	return nil, nil
}
