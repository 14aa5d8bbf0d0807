-- The example's data: what tasks/fruit.yaml reads.
CREATE TABLE fruit (
    name   text PRIMARY KEY,
    crates integer NOT NULL,
    picked date NOT NULL
);
INSERT INTO fruit VALUES
    ('apple', 12, '2024-05-30'),
    ('cherry', 3, '2024-06-01'),
    ('pear', 7, '2024-06-02');
