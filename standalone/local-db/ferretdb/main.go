// Command uplet-ferretdb runs FerretDB v1.24.2 through its embeddable package.
// FerretDB's own cmd/ferretdb panics when built from the module proxy (its
// version.txt is not part of the module), so uplet builds this small main instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	postgresURL := flag.String("postgresql-url", "", "PostgreSQL URL (PostgreSQL handler)")
	sqliteURL := flag.String("sqlite-url", "", "SQLite directory URL such as file:/dir/ (SQLite handler)")
	flag.Parse()

	conf := &ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: *listen}}
	switch {
	case *postgresURL != "" && *sqliteURL == "":
		conf.Handler = "postgresql"
		conf.PostgreSQLURL = *postgresURL
	case *sqliteURL != "" && *postgresURL == "":
		conf.Handler = "sqlite"
		conf.SQLiteURL = *sqliteURL
	default:
		fmt.Fprintln(os.Stderr, "uplet-ferretdb: give exactly one of -postgresql-url or -sqlite-url")
		os.Exit(2)
	}

	db, err := ferretdb.New(conf)
	if err != nil {
		log.Fatalf("uplet-ferretdb: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Printed once the listener is configured; the launcher still waits for a ping.
	fmt.Printf("uplet-ferretdb listening on %s\n", *listen)
	if err := db.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatalf("uplet-ferretdb: %v", err)
	}
}
