-- The one key-value table. COLLATE "C" compares keys byte by byte, which for
-- UTF-8 is code point order: the order store.Reader.List promises, the same
-- as the SQLite backend's BINARY collation.
CREATE TABLE kv (
	key   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	value BYTEA NOT NULL
);
