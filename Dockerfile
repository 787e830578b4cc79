# One image for every part of the platform; docker-compose.yml picks the command of each service.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ENV HOST=0.0.0.0 LOG_LEVEL=info
EXPOSE 4000
CMD ["npm", "start"]
