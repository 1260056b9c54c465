-- Which server this session reaches (a MariaDB schema is a database of the
-- server).  Two connections with equal text reach the same tables.
SELECT CONCAT_WS(' ', 'mariadb', @@hostname, @@port, @@socket, @@datadir)
