-- The one key-value table. BINARY collation compares keys with memcmp, which
-- for UTF-8 is code point order: the order store.Reader.List promises.
-- WITHOUT ROWID stores rows in the primary-key B-tree itself, so a Get is one
-- index lookup and a List is one ordered range scan.
CREATE TABLE kv (
	key   TEXT COLLATE BINARY NOT NULL PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
