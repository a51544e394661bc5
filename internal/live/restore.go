package live

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ccswitch/ccswitch/tserver/cti"
)

// restoreChats puts back the chats a crash (or a stop) left queued or
// with an agent: after the journal's spool was applied, before the IM
// networks deliver. A chat that was with an agent waits for that agent
// as long as CTI keeps a lost desktop logged in.
func (c *Center) restoreChats(ctx context.Context) error {
	rs, err := c.im.journal.Restorable(ctx)
	if err != nil {
		return fmt.Errorf("live: restore chats: %w", err)
	}
	if len(rs) > 0 {
		c.im.gw.Restore(rs, cti.DefaultLogoutGrace)
	}
	return nil
}

// webchatSecret returns the key that signs web chat visitor keys, kept in
// the file next to the store (created with a random key the first time),
// so that a visitor keeps its key, and its conversation, across restarts.
func webchatSecret(storePath string) ([]byte, error) {
	path := storePath + ".webchat-key"
	b, err := os.ReadFile(path)
	switch {
	case err == nil && len(b) >= 32:
		return b, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("live: web chat key %s: %w", path, err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("live: web chat key %s: %w", path, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return nil, fmt.Errorf("live: web chat key %s: %w", path, err)
	}
	return b, nil
}
