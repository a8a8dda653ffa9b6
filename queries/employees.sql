-- Employees: the list (browse, filter and search), the record, and its
-- writes.
--
-- Every list query reads one page, whatever the size of the table
-- (migration 00006 has the tables and indexes they use):
--   - totals come from employee_counts, exact, a few rows at any size;
--   - a page is an index walk in the page's order that stops after one
--     page, from the keyset cursor; each filter has an index that serves
--     it in that order;
--   - a search reads employee_words, which holds every word of every name
--     and email with the sort keys, so its matches also come in order.
--
-- db.ListBatch sends UsePlans ahead of them in the same round trip. A list
-- filtered by department or status runs with force_custom_plan: its
-- optional filters ("status = '' OR ...") fold away, and the partial
-- indexes of a status apply, only when the planner sees the values. The
-- unfiltered list and the searches' counts, merge and intersection have
-- one right plan whatever the values and run with force_generic_plan,
-- planned once per connection (web/employees_list.go says which).
--
-- Keyset cursors are never NULL: the first page starts after ('', '', 0) in
-- name order and after (0001-01-01, 0) in hire-date order, so the cursor is
-- always an index condition, on every plan.

-- UsePlans sets how the rest of the transaction (or of the pipeline, an
-- implicit transaction) plans its statements: force_custom_plan, for its
-- actual parameters every time; or force_generic_plan, once per
-- connection for any values (db.Plans says which statements want which).
-- name: UsePlans :exec
SELECT set_config('plan_cache_mode', @plan_cache_mode::text, true);

-- CountEmployees is the exact size of the list filtered by department and
-- status, from the counts the triggers keep.
-- name: CountEmployees :one
SELECT coalesce(sum(c.n), 0)::bigint FROM employee_counts c
WHERE (sqlc.narg('department_id')::bigint IS NULL OR c.department_id = sqlc.narg('department_id'))
  AND (@status::text = '' OR c.status = @status);

-- ListEmployeesByName is a page of the list in name order after the cursor.
-- name: ListEmployeesByName :many
SELECT e.id, e.first_name, e.last_name, e.email, e.job_title, e.hire_date, e.status,
       e.department_id, coalesce(d.name, '')::text AS department_name
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
WHERE (e.last_name, e.first_name, e.id) > (@after_last_name::text, @after_first_name::text, @after_id::bigint)
  AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
  AND (@status::text = '' OR e.status = @status)
ORDER BY e.last_name, e.first_name, e.id
LIMIT @page_size;

-- name: ListEmployeesByHireDate :many
SELECT e.id, e.first_name, e.last_name, e.email, e.job_title, e.hire_date, e.status,
       e.department_id, coalesce(d.name, '')::text AS department_name
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
WHERE (e.hire_date, e.id) > (@after_hire_date::date, @after_id::bigint)
  AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
  AND (@status::text = '' OR e.status = @status)
ORDER BY e.hire_date, e.id
LIMIT @page_size;

-- Searching. A search q matches an employee when one of their words starts
-- with word (a word of q, chosen in web/) and their "first last email"
-- contains phrase (q, LIKE-escaped). Both are lowercased here, by the
-- database's lower() that built the words, so that a search and the index
-- agree on every character. The range from word to word followed by the
-- highest character (chr(1114111)) is every word starting with word. A
-- short word can start many different words; the queries take the first
-- max_words of them and CountWordMatches says whether there are more (then
-- web/ walks the list instead: see WalkSearch*).

-- CountWordMatches counts, without reading employees: words, the distinct
-- words starting with word, up to max_words + 1 (one index probe each),
-- and the first of them;
-- entries, the (word, employee) entries of those words, at most up_to;
-- employees, the distinct employees among those entries. With no other
-- condition of the search, employees is the exact number of matches when
-- entries < up_to.
-- name: CountWordMatches :one
WITH RECURSIVE words (word, n) AS (
    (SELECT w.word, 1 FROM employee_words w
     WHERE w.word >= lower(@word::text) AND w.word < lower(@word::text) || chr(1114111)
     ORDER BY w.word LIMIT 1)
    UNION ALL
    SELECT (SELECT w.word FROM employee_words w
            WHERE w.word > words.word AND w.word < lower(@word::text) || chr(1114111)
            ORDER BY w.word LIMIT 1), words.n + 1
    FROM words
    WHERE words.word IS NOT NULL AND words.n <= @max_words::int
)
SELECT (SELECT count(word) FROM words)::int AS words,
       coalesce((SELECT min(word) FROM words), '')::text AS first_word,
       count(*)::int AS entries, count(DISTINCT m.employee_id)::int AS employees
FROM (
    SELECT w.employee_id FROM employee_words w
    WHERE w.word >= lower(@word::text) AND w.word < lower(@word::text) || chr(1114111)
    ORDER BY w.word, w.last_name, w.first_name, w.employee_id
    LIMIT @up_to::int
) m;

-- SearchEmployeesByName is a page of a search in name order. For each word
-- starting with word it reads that word's first matches after the cursor
-- in name order (its entries are stored in that order), then merges them:
-- at most max_words times a page, whatever the number of matches. The
-- whole search (phrase: '' when it is the word alone) is checked on the
-- index entry; the list's filters (department, status; for the picker the
-- terminated) on the employee's row, only when there are any (filtered).
-- name: SearchEmployeesByName :many
WITH RECURSIVE words (word, n) AS (
    (SELECT w.word, 1 FROM employee_words w
     WHERE w.word >= lower(@word::text) AND w.word < lower(@word::text) || chr(1114111)
     ORDER BY w.word LIMIT 1)
    UNION ALL
    SELECT (SELECT w.word FROM employee_words w
            WHERE w.word > words.word AND w.word < lower(@word::text) || chr(1114111)
            ORDER BY w.word LIMIT 1), words.n + 1
    FROM words
    WHERE words.word IS NOT NULL AND words.n < @max_words::int
), hits AS (
    SELECT DISTINCT h.last_name, h.first_name, h.employee_id
    FROM words CROSS JOIN LATERAL (
        SELECT w.last_name, w.first_name, w.employee_id FROM employee_words w
        WHERE w.word = words.word
          AND (w.last_name, w.first_name, w.employee_id) > (@after_last_name::text, @after_first_name::text, @after_id::bigint)
          -- The whole search, on the index entry: no row read.
          AND (@phrase::text = '' OR lower(w.first_name || ' ' || w.last_name || ' ' || w.email) LIKE '%' || lower(@phrase) || '%')
          AND w.employee_id <> @exclude_id::bigint
          -- The list's filters need the row: a subquery per entry, not a
          -- join, which the planner would rather make a scan of the table.
          AND (NOT @filtered::boolean OR coalesce((
              SELECT (sqlc.narg('department_id')::bigint IS NULL OR x.department_id = sqlc.narg('department_id'))
                     AND (@status::text = '' OR x.status = @status)
                     AND (NOT @hide_terminated::boolean OR x.status <> 'terminated')
              FROM employees x WHERE x.id = w.employee_id), false))
        ORDER BY w.last_name, w.first_name, w.employee_id
        LIMIT @page_size
    ) h
    WHERE words.word IS NOT NULL
    ORDER BY h.last_name, h.first_name, h.employee_id
    LIMIT @page_size
)
SELECT e.id, e.first_name, e.last_name, e.email, e.job_title, e.hire_date, e.status,
       e.department_id, coalesce(d.name, '')::text AS department_name
FROM hits
JOIN employees e ON e.id = hits.employee_id
LEFT JOIN departments d ON d.id = e.department_id
ORDER BY e.last_name, e.first_name, e.id;

-- SearchEmployeesByHireDate is a page of a search in hire-date order:
-- every entry of the words starting with word, sorted. web/ asks for it
-- when there are at most a thousand entries (CountWordMatches); a
-- commoner word walks the list in hire-date order (WalkSearchByHireDate).
-- name: SearchEmployeesByHireDate :many
SELECT e.id, e.first_name, e.last_name, e.email, e.job_title, e.hire_date, e.status,
       e.department_id, coalesce(d.name, '')::text AS department_name
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
WHERE e.id IN (SELECT w.employee_id FROM employee_words w
               WHERE w.word >= lower(@word::text) AND w.word < lower(@word::text) || chr(1114111))
  AND (e.hire_date, e.id) > (@after_hire_date::date, @after_id::bigint)
  AND (NOT @filtered::boolean OR (
      lower(e.first_name || ' ' || e.last_name || ' ' || e.email) LIKE '%' || lower(@phrase::text) || '%'
      AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
      AND (@status::text = '' OR e.status = @status)
      AND e.id <> @exclude_id::bigint AND (NOT @hide_terminated::boolean OR e.status <> 'terminated')))
ORDER BY e.hire_date, e.id
LIMIT @page_size;

-- IntersectSearchByName is the plan for a search of two or more common
-- words ("zoe wong"): walking either word's entries in name order would
-- read thousands of them before the few that have the other word too, so
-- it leapfrogs. A candidate entry of word_a matches when its "first last
-- email" (on the entry: no row read) contains the phrase, as every match
-- of a search must (see above); then the next candidate is word_a's next
-- entry (one index probe). When it does not match, the next employee that
-- can is one who also has word_b (every word of a phrase but its first
-- starts a word of a match): the walk seeks word_b's first entry after
-- the candidate, then word_a's first at or after that (two probes), and so
-- skips whole runs of either word. It ends after a page of matches, when
-- a word runs out, or after max_steps steps. word_b stands for one index
-- word: a whole word of the search, or a start that only one word has.
--
-- Rows: the matches (hit), then one row that says where the walk stopped:
-- its key is the next candidate (id 0 when word_a ran out) and steps tells
-- whether it gave up (then web/ reads word_a's entries in order instead).
-- name: IntersectSearchByName :many
WITH RECURSIVE lf (last_name, first_name, employee_id, email, hit, hits, steps) AS (
    (SELECT a.last_name, a.first_name, a.employee_id, a.email, false, 0, 0
     FROM employee_words a
     WHERE a.word = lower(@word_a::text)
       AND (a.last_name, a.first_name, a.employee_id) > (@after_last_name::text, @after_first_name::text, @after_id::bigint)
     ORDER BY a.word, a.last_name, a.first_name, a.employee_id
     LIMIT 1)
    UNION ALL
    SELECT nxt.last_name, nxt.first_name, nxt.employee_id, nxt.email, step.hit, lf.hits + step.hit::int, lf.steps + 1
    FROM lf
    CROSS JOIN LATERAL (
        SELECT lower(lf.first_name || ' ' || lf.last_name || ' ' || lf.email) LIKE '%' || lower(@phrase::text) || '%'
               AND lf.employee_id <> @exclude_id::bigint
               AND (NOT @filtered::boolean OR coalesce((
                   SELECT (sqlc.narg('department_id')::bigint IS NULL OR x.department_id = sqlc.narg('department_id'))
                          AND (@status::text = '' OR x.status = @status)
                          AND (NOT @hide_terminated::boolean OR x.status <> 'terminated')
                   FROM employees x WHERE x.id = lf.employee_id), false)) AS hit
        OFFSET 0 -- evaluated once per step, not once per use of hit
    ) step
    -- After a miss: word_b's first entry after the candidate.
    LEFT JOIN LATERAL (
        SELECT b.last_name, b.first_name, b.employee_id FROM employee_words b
        WHERE NOT step.hit AND b.word = lower(@word_b::text)
          AND (b.last_name, b.first_name, b.employee_id) > (lf.last_name, lf.first_name, lf.employee_id)
        ORDER BY b.word, b.last_name, b.first_name, b.employee_id
        LIMIT 1
    ) b ON true
    -- Where the next candidate is sought from: after this one (a match),
    -- or at word_b's entry (a miss; none left there: the walk is over).
    CROSS JOIN LATERAL (
        SELECT CASE WHEN step.hit THEN lf.last_name ELSE b.last_name END AS last_name,
               CASE WHEN step.hit THEN lf.first_name ELSE b.first_name END AS first_name,
               CASE WHEN step.hit THEN lf.employee_id + 1 ELSE b.employee_id END AS employee_id
        OFFSET 0
    ) k
    LEFT JOIN LATERAL (
        SELECT a.last_name, a.first_name, a.employee_id, a.email FROM employee_words a
        WHERE a.word = lower(@word_a::text)
          AND (a.last_name, a.first_name, a.employee_id) >= (k.last_name, k.first_name, k.employee_id)
        ORDER BY a.word, a.last_name, a.first_name, a.employee_id
        LIMIT 1
    ) nxt ON true
    WHERE lf.employee_id IS NOT NULL AND lf.hits < @page_size::int AND lf.steps < @max_steps::int
),
walked AS (
    -- A row's hit is about the candidate of the row before it.
    SELECT lag(lf.employee_id) OVER w AS matched_id, lf.hit, lf.steps,
           lf.last_name, lf.first_name, lf.employee_id, max(lf.steps) OVER () AS last_step
    FROM lf
    WINDOW w AS (ORDER BY lf.steps)
)
SELECT w.hit, w.steps, coalesce(w.last_name, '')::text AS at_last_name, coalesce(w.first_name, '')::text AS at_first_name,
       coalesce(w.employee_id, 0)::bigint AS at_id,
       e.id, e.first_name, e.last_name, e.email, e.job_title, e.hire_date, e.status,
       e.department_id, coalesce(d.name, '')::text AS department_name
FROM walked w
LEFT JOIN employees e ON w.hit AND e.id = w.matched_id
LEFT JOIN departments d ON d.id = e.department_id
WHERE w.hit OR w.steps = w.last_step
ORDER BY w.steps;

-- WalkInOrder makes the rest of the batch walk indexes in order rather
-- than scan and sort. The walks below are chosen only for searches whose
-- matches are common (web/ knows from CountWordMatches), where reading the
-- list in order finds a page after a few rows; the planner cannot know
-- that (it guesses a pattern match is rare) and would read the whole table
-- to sort what matches. One process: parallel workers each read ahead far
-- past the page.
-- name: WalkInOrder :exec
SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
       set_config('enable_sort', 'off', true), set_config('max_parallel_workers_per_gather', '0', true);

-- MergeInOrder goes before SearchEmployeesByName: each word's matches are
-- read in the order its index entries are stored, until a page is found.
-- The planner guesses a phrase rarely matches, so it may rather read all
-- of a common word's entries and sort them (a bitmap scan: 17,000 rows
-- and 14,000 pages for "sato.7" at a million employees, against 460 rows
-- and 12 pages in order), and does whenever the visibility map is not
-- recent: how much of the table is all-visible decides between the two.
-- Sorts stay allowed: the merged words need one, of a page each. One
-- process, as for the walks.
-- name: MergeInOrder :exec
SELECT set_config('enable_bitmapscan', 'off', true), set_config('max_parallel_workers_per_gather', '0', true);

-- WalkSearchByName is the plan for a word so short that it starts more
-- than max_words words ("a"): such a word is common, so walking the list
-- in name order finds a page of matches after a few rows. The regular
-- expression is "word at the start of a word" (word holds only letters
-- and digits, so it has nothing to escape).
-- name: WalkSearchByName :many
SELECT e.id, e.first_name, e.last_name, e.email, e.job_title, e.hire_date, e.status,
       e.department_id, coalesce(d.name, '')::text AS department_name
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
WHERE (e.last_name, e.first_name, e.id) > (@after_last_name::text, @after_first_name::text, @after_id::bigint)
  AND lower(e.first_name || ' ' || e.last_name || ' ' || e.email) ~ ('(^|[^0-9a-z\u0080-\U0010ffff])' || lower(@word::text))
  AND lower(e.first_name || ' ' || e.last_name || ' ' || e.email) LIKE '%' || lower(@phrase::text) || '%'
  AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
  AND (@status::text = '' OR e.status = @status)
  AND e.id <> @exclude_id::bigint AND (NOT @hide_terminated::boolean OR e.status <> 'terminated')
ORDER BY e.last_name, e.first_name, e.id
LIMIT @page_size;

-- name: WalkSearchByHireDate :many
SELECT e.id, e.first_name, e.last_name, e.email, e.job_title, e.hire_date, e.status,
       e.department_id, coalesce(d.name, '')::text AS department_name
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
WHERE (e.hire_date, e.id) > (@after_hire_date::date, @after_id::bigint)
  AND lower(e.first_name || ' ' || e.last_name || ' ' || e.email) ~ ('(^|[^0-9a-z\u0080-\U0010ffff])' || lower(@word::text))
  AND lower(e.first_name || ' ' || e.last_name || ' ' || e.email) LIKE '%' || lower(@phrase::text) || '%'
  AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
  AND (@status::text = '' OR e.status = @status)
  AND e.id <> @exclude_id::bigint AND (NOT @hide_terminated::boolean OR e.status <> 'terminated')
ORDER BY e.hire_date, e.id
LIMIT @page_size;

-- ExportEmployees is the whole filtered list for the CSV download, with
-- the search of the list (word, phrase: see above; '' when there is
-- none). The handler streams it row by row (db.Queries.EachExportEmployee)
-- rather than through the generated method, which collects every row first.
-- name: ExportEmployees :many
SELECT e.id, e.first_name, e.last_name, e.email, e.job_title,
       coalesce(d.name, '')::text AS department_name, e.manager_id,
       e.hire_date, e.status, e.termination_date, e.created_at, e.updated_at
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
WHERE (@word::text = '' OR e.id IN (
          SELECT w.employee_id FROM employee_words w WHERE w.word >= lower(@word::text) AND w.word < lower(@word::text) || chr(1114111)))
  AND (@phrase::text = '' OR lower(e.first_name || ' ' || e.last_name || ' ' || e.email) LIKE '%' || lower(@phrase) || '%')
  AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
  AND (@status::text = '' OR e.status = @status)
ORDER BY e.last_name, e.first_name, e.id;

-- name: GetEmployee :one
SELECT * FROM employees WHERE id = $1;

-- GetEmployeeForUpdate locks the row for the rest of the transaction.
-- NO KEY UPDATE, not UPDATE: an insert or update elsewhere that names this
-- employee as manager takes KEY SHARE for its foreign key and must not wait.
-- name: GetEmployeeForUpdate :one
SELECT * FROM employees WHERE id = $1 FOR NO KEY UPDATE;

-- name: GetEmployeeByCreateKey :one
SELECT * FROM employees WHERE create_key = $1;

-- EmployeeDetail is the record page: the row with its department's and
-- manager's names.
-- name: EmployeeDetail :one
SELECT e.*, coalesce(d.name, '')::text AS department_name,
       coalesce(m.first_name || ' ' || m.last_name, '')::text AS manager_name
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
LEFT JOIN employees m ON m.id = e.manager_id
WHERE e.id = $1;

-- name: DirectReports :many
SELECT id, first_name, last_name, job_title, status
FROM employees
WHERE manager_id = $1
ORDER BY last_name, first_name, id
LIMIT @max_rows;

-- CreateEmployee inserts unless the form's idempotency key was used
-- already; then it returns no row and the caller loads the earlier one.
-- name: CreateEmployee :one
INSERT INTO employees (first_name, last_name, email, job_title, department_id, manager_id,
                       hire_date, status, termination_date, create_key)
VALUES (@first_name, @last_name, @email, @job_title, sqlc.narg('department_id'), sqlc.narg('manager_id'),
        @hire_date, @status, sqlc.narg('termination_date'), @create_key)
ON CONFLICT (create_key) DO NOTHING
RETURNING *;

-- UpdateEmployee applies an edit made on version version; no row means
-- someone else saved in between (or the employee is gone).
-- name: UpdateEmployee :one
UPDATE employees SET
    first_name = @first_name, last_name = @last_name, email = @email, job_title = @job_title,
    department_id = sqlc.narg('department_id'), manager_id = sqlc.narg('manager_id'),
    hire_date = @hire_date, status = @status, termination_date = sqlc.narg('termination_date'),
    version = version + 1, updated_at = now()
WHERE id = @id AND version = @version
RETURNING *;

-- name: TerminateEmployee :one
UPDATE employees SET status = 'terminated', termination_date = @termination_date,
    version = version + 1, updated_at = now()
WHERE id = @id AND version = @version
RETURNING *;

-- LockManagerChanges serialises changes of reporting lines, so that two
-- edits cannot each pass the cycle check and together make a loop (A under
-- B in one, B under A in the other). Held until the transaction ends.
-- name: LockManagerChanges :exec
SELECT pg_advisory_xact_lock(hashtext('hris.employees.manager_id'));

-- ManagerCreatesCycle reports whether manager_id is employee_id or
-- reports to them, directly or through any chain of managers. It walks up
-- from the proposed manager; UNION (not UNION ALL) ends the walk should the
-- data already hold a loop.
-- name: ManagerCreatesCycle :one
WITH RECURSIVE chain (id, manager_id) AS (
    SELECT e.id, e.manager_id FROM employees e WHERE e.id = @manager_id::bigint
    UNION
    SELECT e.id, e.manager_id FROM employees e JOIN chain c ON e.id = c.manager_id
)
SELECT EXISTS (SELECT 1 FROM chain WHERE chain.id = @employee_id::bigint);

-- DetachReports clears the manager of everyone reporting to id before it
-- is deleted, bumping their version so open edit forms notice.
-- name: DetachReports :execrows
UPDATE employees SET manager_id = NULL, version = version + 1, updated_at = now()
WHERE manager_id = @id;

-- name: DeleteEmployee :execrows
DELETE FROM employees WHERE id = $1;
