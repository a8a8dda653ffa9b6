package db

// The SQL of the leave pages' queries, for the plan tests of db_test.
const (
	ListLeaveRequestsSQL = listLeaveRequests
	LeaveBalanceSQL      = leaveBalance
	EmployeeLeaveSQL     = employeeLeave
	OverlappingLeaveSQL  = overlappingLeave
)
