package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// routes is the whole URL surface of hris.
func (a *App) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(a.recoverPanic, a.withRequestID, a.logRequests, a.securityHeaders, a.crossOriginProtection, limitBody, a.checkQueryText)
	r.NotFound(a.withUser(a.notFound))
	r.MethodNotAllowed(a.withUser(a.methodNotAllowed))

	// No session, no database: probes, metrics and assets stay cheap and
	// keep answering when the database does not.
	r.Get("/health", a.healthLive)
	r.Get("/livez", a.healthLive)
	r.Get("/readyz", a.healthReady)
	r.Get("/health/detailed", a.healthDetailed)
	r.Method(http.MethodGet, "/metrics", a.metricsHandler())
	r.Method(http.MethodGet, "/static/*", staticFiles())
	r.Get("/favicon.ico", faviconRedirect)

	r.Group(func(r chi.Router) {
		r.Use(a.loadSession, a.loadUser)
		r.Get("/login", a.loginForm)
		r.Post("/login", a.loginPost)
		r.Post("/logout", a.logoutPost)

		// HR staff and administrators.
		r.Group(func(r chi.Router) {
			r.Use(a.requireLogin)
			r.Get("/", home)

			r.Get("/employees", a.employeeList)
			r.Get("/employees.csv", a.employeeExport)
			r.Get("/employees/new", a.employeeNew)
			r.Get("/employees/picker", a.employeePicker)
			r.Post("/employees", a.employeeCreatePost)
			r.Get("/employees/{id}", a.employeeShow)
			r.Get("/employees/{id}/edit", a.employeeEdit)
			r.Post("/employees/{id}", a.employeeEditPost)
			r.Get("/employees/{id}/terminate", a.employeeTerminate)
			r.Post("/employees/{id}/terminate", a.employeeTerminatePost)
			r.Get("/employees/{id}/allowance/{year}", a.allowanceEdit)
			r.Post("/employees/{id}/allowance/{year}", a.allowanceEditPost)

			r.Get("/leave", a.leaveList)
			r.Get("/leave/new", a.leaveNew)
			r.Post("/leave", a.leaveCreatePost)
			r.Get("/leave/{id}", a.leaveShow)
			r.Post("/leave/{id}/approve", a.leaveApprovePost)
			r.Post("/leave/{id}/reject", a.leaveRejectPost)
			r.Post("/leave/{id}/cancel", a.leaveCancelPost)

			r.Get("/departments", a.departmentList)
			r.Get("/departments/new", a.departmentNew)
			r.Post("/departments", a.departmentCreatePost)
			r.Get("/departments/{id}", a.departmentShow)
			r.Get("/departments/{id}/edit", a.departmentEdit)
			r.Post("/departments/{id}", a.departmentEditPost)
			r.Get("/departments/{id}/delete", a.departmentDelete)
			r.Post("/departments/{id}/delete", a.departmentDeletePost)

			// Administrators only; hr users get a 403 page.
			r.Group(func(r chi.Router) {
				r.Use(a.requireRole("admin"))
				r.Get("/employees/{id}/delete", a.employeeDelete)
				r.Post("/employees/{id}/delete", a.employeeDeletePost)
				r.Get("/audit", a.auditList)
				r.Get("/users", a.userList)
				r.Get("/users/new", a.userNew)
				r.Post("/users", a.userCreatePost)
				r.Get("/users/{id}/deactivate", a.userDeactivateConfirm)
				r.Post("/users/{id}/deactivate", a.userDeactivatePost)
				r.Post("/users/{id}/activate", a.userActivatePost)
				r.Get("/users/{id}/password", a.userPasswordForm)
				r.Post("/users/{id}/password", a.userPasswordPost)

				r.Get("/ops", a.opsPage)
				r.Get("/ops/pool", a.poolPartial)
				r.Get("/ops/activity", a.activityPartial)
				r.Get("/ops/locks", a.locksPartial)
				r.Get("/ops/database", a.databasePartial)
				r.Get("/ops/fleet", a.fleetPartial)
				r.Get("/ops/queries", a.opsQueryList)
				r.Get("/ops/queries/{queryid}", a.opsQueryShow)
				r.Get("/ops/tables", a.opsTableList)
				r.Get("/ops/replication", a.replicationPartial)
				r.Get("/ops/alerts", a.opsAlerts)
				r.Get("/ops/alerts/banner", a.alertsBanner)
				r.Get("/ops/backends/{pid}/cancel", a.backendCancelConfirm)
				r.Post("/ops/backends/{pid}/cancel", a.backendCancelPost)
				r.Get("/ops/backends/{pid}/terminate", a.backendTerminateConfirm)
				r.Post("/ops/backends/{pid}/terminate", a.backendTerminatePost)
			})
		})
	})
	return r
}

func home(w http.ResponseWriter, r *http.Request) { redirect(w, r, "/employees") }
