module gortbench-go

go 1.19
