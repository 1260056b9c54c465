-- demo_workload.sql -- what `shadowsync demo` (tools/demo.c) does on the source
-- once capture is installed: inserts, updates (one changing a primary key),
-- deletes.
INSERT INTO customers (id, name, email, vip, photo) VALUES (1, 'Ada Lovelace', 'ada@example.org', 1, X'89504e470d0a1a0a00ff'), (2, 'Bo Ødegård', NULL, 0, NULL), (3, 'Chidi 😀', '', 0, X''), (4, 'Dana', 'dana@example.org', 0, NULL);
INSERT INTO orders VALUES (100, 1, '2026-11-21 09:00:00.125', 'new', 41.50), (101, 2, '2026-11-21 09:05:00', 'new', 12.00), (102, 3, '2026-11-21 09:10:00', 'new', 7.25);
INSERT INTO order_lines VALUES (100, 1, 'BOOK-1', 1, 30.00), (100, 2, 'PEN-3', 2, 5.75), (101, 1, 'MUG-2', 1, 12.00), (102, 1, 'TEA-9', 1, 7.25);
UPDATE orders SET status = 'paid' WHERE id IN (100, 101);
UPDATE customers SET email = 'bo@example.org', vip = 1 WHERE id = 2;
UPDATE orders SET id = 200 WHERE id = 102;
UPDATE order_lines SET order_id = 200 WHERE order_id = 102;
DELETE FROM order_lines WHERE order_id = 101;
DELETE FROM orders WHERE id = 101;
DELETE FROM customers WHERE id = 4;
INSERT INTO order_lines VALUES (100, 3, 'CARD-7', 1, NULL);
