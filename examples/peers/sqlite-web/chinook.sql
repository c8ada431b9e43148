-- A few rows of the Chinook sample database (the process-compose-flake
-- example imports the whole of it; this is enough to browse). Safe to run
-- again: the init job runs at every start.
CREATE TABLE IF NOT EXISTS Artist (ArtistId INTEGER PRIMARY KEY, Name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS Album (
  AlbumId INTEGER PRIMARY KEY,
  Title TEXT NOT NULL,
  ArtistId INTEGER NOT NULL REFERENCES Artist (ArtistId)
);
INSERT OR REPLACE INTO Artist VALUES (1, 'AC/DC'), (2, 'Accept'), (3, 'Aerosmith');
INSERT OR REPLACE INTO Album VALUES
  (1, 'For Those About To Rock We Salute You', 1),
  (2, 'Balls to the Wall', 2),
  (3, 'Restless and Wild', 2),
  (4, 'Big Ones', 3);
