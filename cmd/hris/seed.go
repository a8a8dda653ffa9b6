package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"hris/db"
)

func cmdSeed(ctx context.Context, e env, args []string, std stdio) error {
	fs := newFlags("seed", std.err)
	n := fs.Int("employees", 200, "how many demo employees to have")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 0 || *n > 10_000_000 {
		return usageError{"seed: --employees must be between 0 and 10000000"}
	}
	d, err := openDB(ctx, e, std)
	if err != nil {
		return err
	}
	defer d.Close()
	start := time.Now()
	added, err := seed(ctx, d, *n)
	if err != nil {
		return err
	}
	fmt.Fprintf(std.out, "seeded: %d employees added (%d asked for) in %s\n", added, *n, time.Since(start).Round(time.Millisecond))
	return nil
}

var demoDepartments = []struct{ name, description string }{
	{"Engineering", "Builds and runs the product"},
	{"Finance", "Accounts, payroll and budgets"},
	{"Human Resources", "People, hiring and policies"},
	{"Marketing", "Brand, campaigns and events"},
	{"Operations", "Facilities, logistics and IT"},
	{"Sales", "New business and key accounts"},
	{"Customer Support", "Helps customers every day"},
	{"Legal", "Contracts and compliance"},
	{"Product", "Decides what gets built next"},
	{"Research", "Looks further ahead"},
}

var (
	firstNames = strings.Fields(`Ada Alan Alice Amara Ana Andre Anika Ben Bianca Carlos Chen Chloe Dara David Diego Elena
		Emma Erik Fatima Felix Grace Hana Hugo Ines Isaac Ivan Jade James Jana Jonas Julia Kai Karin Kenji Lara Leo Lena
		Liam Lucia Maya Mei Milan Mira Nadia Nia Noah Nora Omar Oscar Paula Priya Rafael Rosa Ruth Sam Sara Sofia Tariq
		Tess Theo Uma Vera Victor Wei Yara Yusuf Zoe`)
	lastNames = strings.Fields(`Abbott Adeyemi Alvarez Andersen Bauer Becker Bianchi Brown Castro Chen Costa Dubois
		Edwards Eriksson Fischer Garcia Gomez Hansen Haddad Ito Jensen Kim Kowalski Lambert Larsen Lee Lopez Martin
		Meyer Moreau Müller Nakamura Nguyen Novak O'Brien Okafor Olsen Patel Perez Petrov Quinn Rossi Sato Schmidt
		Silva Singh Smith Tanaka Torres Van Dijk Varga Wagner Walsh Weber Wilson Wong Yilmaz Zhang`)
	titles = strings.Fields(`Analyst Associate Coordinator Engineer Lead Manager Specialist Director Consultant Assistant`)
)

// seed inserts the demo departments and employees 0..n-1. Employee i always
// gets the same name and email, and inserts skip existing emails, so
// seeding again (or with a larger n) only adds what is missing.
func seed(ctx context.Context, d *db.DB, n int) (int64, error) {
	names := make([]string, len(demoDepartments))
	descs := make([]string, len(demoDepartments))
	for i, dep := range demoDepartments {
		names[i], descs[i] = dep.name, dep.description
	}
	var deptIDs []int64
	err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		if _, err = q.SeedDepartments(ctx, db.SeedDepartmentsParams{Names: names, Descriptions: descs}); err != nil {
			return err
		}
		deptIDs, err = q.DepartmentIDs(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("seed departments: %w", err)
	}
	// New employees get ids above the highest one now.
	var firstNew int64
	err = d.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		firstNew, err = q.LastEmployeeID(ctx)
		firstNew++
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	const batch = 5000
	var added int64
	base := time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		p := db.SeedEmployeesParams{}
		for i := lo; i < hi; i++ {
			r := rand.New(rand.NewPCG(uint64(i), 42)) // same row for the same i, every time
			first := firstNames[r.IntN(len(firstNames))]
			last := lastNames[r.IntN(len(lastNames))]
			status := "active"
			switch x := r.IntN(100); {
			case x < 5:
				status = "terminated"
			case x < 11:
				status = "on_leave"
			}
			dept := deptIDs[r.IntN(len(deptIDs))]
			p.FirstNames = append(p.FirstNames, first)
			p.LastNames = append(p.LastNames, last)
			p.Emails = append(p.Emails, fmt.Sprintf("%s.%s.%d@example.com", emailPart(first), emailPart(last), i))
			p.JobTitles = append(p.JobTitles, titles[r.IntN(len(titles))])
			p.DepartmentIds = append(p.DepartmentIds, dept)
			p.HireDates = append(p.HireDates, base.AddDate(0, 0, r.IntN(17*365)))
			p.Statuses = append(p.Statuses, status)
		}
		var k int64
		err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
			k, err = q.SeedEmployees(ctx, p)
			return err
		})
		if err != nil {
			return added, fmt.Errorf("seed employees %d-%d: %w", lo, hi-1, err)
		}
		added += k
	}
	if added > 0 {
		// The new employees' leave, so the leave pages look lived in.
		if _, err := seedLeave(ctx, d, firstNew); err != nil {
			return added, err
		}
		// Fresh statistics now, not when autovacuum next comes by: without
		// them the planner ignores the search index (9 ms instead of 0.6 ms).
		err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) error { return q.AnalyzeEmployees(ctx) })
		if err != nil {
			return added, fmt.Errorf("seed: analyze: %w", err)
		}
	}
	return added, nil
}

// emailPart lowercases a name for an email address, keeping ASCII letters.
func emailPart(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r == 'ü':
			b.WriteString("ue")
		}
	}
	return b.String()
}
