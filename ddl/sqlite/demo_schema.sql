-- demo_schema.sql -- the shop of `shadowsync demo` (tools/demo.c), created in
-- both SQLite databases.
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, vip BOOLEAN NOT NULL DEFAULT 0, photo BLOB);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, placed_at TIMESTAMP NOT NULL, status TEXT NOT NULL, total NUMERIC);
CREATE TABLE order_lines (order_id INTEGER NOT NULL, line_no INTEGER NOT NULL, sku TEXT NOT NULL, qty INTEGER NOT NULL, price NUMERIC, PRIMARY KEY (order_id, line_no));
