netspec summary lenet5.yaml --columns output,kernal
