module telepresence.local/testcluster

go 1.24
