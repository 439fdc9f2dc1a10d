package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/dialtone/dialtone/sqlstore"
	"github.com/dialtone/dialtone/storetest"
)

// TestMigrationMakesDevices: an account made before migration
// 0012_devices keeps its SIP password as a device named as the account.
func TestMigrationMakesDevices(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			m, err := open()
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			st := m.(interface {
				Dialect() *sqlstore.Dialect
				DB() *sql.DB
			})
			d := st.Dialect()
			ms, err := d.Migrations()
			if err != nil {
				t.Fatal(err)
			}
			// Every migration before 0012, as an older binary applied them.
			if _, err := st.DB().ExecContext(ctx, `CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at `+d.Schema.Time+` NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			for _, mig := range ms {
				if mig.Version >= "0012" {
					break
				}
				if _, err := st.DB().ExecContext(ctx, mig.SQL); err != nil {
					t.Fatalf("migration %s: %v", mig.Version, err)
				}
				if _, err := st.DB().ExecContext(ctx, d.Rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), mig.Version, d.T(time.Now())); err != nil {
					t.Fatal(err)
				}
			}
			alice := storetest.NewAccount("alice")
			if err := m.CreateAccount(ctx, alice); err != nil {
				t.Fatal(err)
			}
			applied, err := m.Migrate(ctx)
			if err != nil || len(applied) == 0 || applied[0] != "0012_devices" {
				t.Fatalf("Migrate() = %v, %v; want 0012_devices applied first", applied, err)
			}
			dev, err := m.DeviceByUsername(ctx, "alice")
			if err != nil {
				t.Fatalf("DeviceByUsername(alice) after the migration = %v", err)
			}
			if dev.AccountID != alice.ID || dev.Account != "alice" || dev.Realm != alice.Realm || dev.HA1MD5 != alice.HA1MD5 ||
				dev.HA1SHA256 != alice.HA1SHA256 || dev.Revoked() || !dev.CreatedAt.Equal(alice.CreatedAt) {
				t.Errorf("migrated device %+v, want alice's hashes and realm, created with her account at %v", dev, alice.CreatedAt)
			}
		})
	}
}
