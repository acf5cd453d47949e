package report

// ReadReportUpTo is ReadReport with a smaller limit, so that a test need
// not feed it a gigabyte.
var ReadReportUpTo = readReport
